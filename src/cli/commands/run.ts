import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { isValkyrieError } from '../../core/errors.js';
import type { RunStatus } from '../../core/outcome.js';
import { defaultPriority } from '../../core/priority.js';
import type { RunEvent } from '../../engine/events.js';
import { WorkflowGroupError } from '../../engine/workflow-group.js';
import { warmUpSpawner } from '../../executors/shell/index.js';
import { describeHost, runnerLabels } from '../../runner/host.js';
import { formatDiagnostics } from '../../workflow/diagnostics.js';
import { inputFlagHint, inputlessEventNote, runInputs } from '../../workflow/inputs.js';
import { looksLikeJobId } from '../../workflow/job-selection.js';
import type { MatrixFilter } from '../../workflow/matrix.js';
import type { Workflow } from '../../workflow/model.js';
import { loadWorkflow } from '../../workflow/parse.js';
import { plannedJobCount } from '../../workflow/planned-jobs.js';
import { chooseEvent } from '../../workflow/triggers.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { readGitContext } from '../git-info.js';
import { GroupWait } from '../group-wait.js';
import { selectedWorkflow } from '../job-option.js';
import { checkedSecrets, newRunVars, unreadSecretsFileNote } from '../key-values.js';
import { localActionProblems } from '../local-action-check.js';
import { type LocalRun, startLocalRun } from '../local-mode.js';
import { filteredWorkflow } from '../matrix-option.js';
import { parseQueueFlags, type QueueFlags } from '../queue-options.js';
import { runExitCode } from '../run-exit.js';
import { localRunFingerprint } from '../run-fingerprint.js';
import { type InterruptedRunHint, interruptedRunHint, runEnd } from '../run-recovery.js';
import { RunSignals } from '../run-signals.js';
import { checkTempDir } from '../run-temp-root.js';
import { openStores, stateDirectory } from '../state.js';
import { reportNotStarted } from '../submission-report.js';
import { BufferedOutput } from '../views/buffered-output.js';
import { createView } from '../views/create-view.js';
import { workflowFileOf } from '../workflow-file.js';

export interface RunCommandOptions extends QueueFlags {
  readonly jobs?: string;
  /** `--job`: run only these jobs and the jobs they need. */
  readonly job?: string[];
  /** `--matrix`: run only the matrix legs it keeps (cli/matrix-option.ts). */
  readonly matrix?: MatrixFilter;
  readonly secret?: Record<string, string>;
  readonly secretsFile?: string;
  readonly env?: Record<string, string>;
  readonly var?: Record<string, string>;
  readonly input?: Record<string, string>;
  readonly event?: string;
  readonly label?: string[];
  readonly json?: boolean;
  readonly color?: boolean;
  readonly stateDir?: string;
  readonly db?: string;
}

export async function runCommand(file: string | undefined, options: RunCommandOptions): Promise<number> {
  // A launcher named by VALKYRIE_LAUNCHER waits for its spawner, which takes a few tens of
  // milliseconds to start: start it while the workflow is parsed. `auto` starts its own at the first
  // step, or once the workflow is parsed when the run has more jobs than slots (below).
  warmUpSpawner();
  const cwd = process.cwd();
  const concurrency = parseConcurrency(options.jobs);
  const queue = parseQueueFlags(options, Date.now());
  // After the flags: a mistake in one is told whether or not the file is found.
  const path = workflowFileOf(file, 'run', cwd);
  const host = describeHost();
  const labels = runnerLabels(host, options.label ?? []);
  const parsed = await loadWorkflow(path, {
    runnerLabels: labels,
    ...(options.job ? { jobs: options.job } : {}),
    ...(options.matrix ? { matrix: options.matrix } : {}),
  });
  if (parsed.diagnostics.length > 0) {
    process.stderr.write(`${formatDiagnostics(path, parsed.source, parsed.diagnostics)}\n`);
  }
  if (!parsed.workflow) return ExitCode.invalid;
  const actionProblems = localActionProblems(parsed.workflow, cwd);
  if (actionProblems !== '') {
    process.stderr.write(`${actionProblems}\n`);
    return ExitCode.invalid;
  }
  const workflow = filteredWorkflow(
    selectedWorkflow(parsed.workflow, options.job, path),
    options.matrix,
    (note) => process.stderr.write(`valkyrie: ${note}\n`),
  );
  // More jobs than slots: steps start after the first ones, and `auto`'s spawner can be ready by then.
  if (plannedJobCount(workflow) > concurrency) warmUpSpawner({ manySteps: true });
  const event = runEvent(workflow.triggers, options);
  const inputs = runInputs(workflow.inputs, event, options.input ?? {}, inputFlagHint);
  const inputsNote =
    options.event === undefined ? inputlessEventNote(workflow.inputs, workflow.triggers, event) : undefined;
  if (inputsNote !== undefined) process.stderr.write(`valkyrie: ${inputsNote}\n`);
  const secrets = checkedSecrets(options);
  const secretsNote = unreadSecretsFileNote(options, cwd, parsed.source);
  if (secretsNote !== undefined) process.stderr.write(`valkyrie: ${secretsNote}\n`);
  const vars = newRunVars(options.var);

  const stateDir = stateDirectory(options.stateDir, cwd);
  checkTempDir();
  const stores = await openStores(options.db, stateDir);
  const out = new BufferedOutput(process.stdout);
  const view = createView(options, out);
  let local: LocalRun | undefined;
  const signals = new RunSignals(
    () => out.flush(),
    (write) => view.aside(write),
  );
  signals.listen();
  try {
    const wait = new GroupWait();
    // Told when the run's first event comes, or by the report of why none will (reportNotStarted).
    let interruptedHint: InterruptedRunHint | undefined;
    const takeHint = () => {
      const hint = interruptedHint;
      interruptedHint = undefined;
      return hint;
    };
    const onEvent = (event: RunEvent) => {
      // Written only when there is one: an empty write is still a system call, one an event.
      const hint = takeHint();
      if (hint !== undefined) process.stderr.write(hint.line);
      wait.onEvent(event);
      view.onEvent(event);
    };
    const workspace = resolve(cwd);
    // Read once, for the concurrency group's expression and the run's context alike.
    const git = readGitContext(workspace, event === 'push');
    const request = {
      source: parsed.source,
      workspace,
      path,
      vars,
      inputs,
      env: options.env ?? {},
      secretNames: Object.keys(secrets),
      event,
      jobs: options.job,
      matrix: options.matrix,
      priority: queue.priority ?? workflow.priority ?? defaultPriority,
    };
    const fingerprint = localRunFingerprint(request);
    const idempotency = queue.idempotency && { ...queue.idempotency, fingerprint };
    const report = {
      idempotencyKey: idempotency?.key,
      fingerprint,
      request,
      json: options.json === true,
      stores,
      workflowName: workflow.name,
      interrupted: takeHint,
    };
    const start = await startLocalRun({
      workflow,
      ...(options.job === undefined ? {} : { selectedJobs: options.job }),
      stores,
      stateDir,
      workspace,
      git,
      host,
      concurrency,
      extraLabels: options.label ?? [],
      secrets,
      vars,
      inputs,
      event,
      env: options.env ?? {},
      onEvent,
      queue: { ...queue, idempotency },
      source: parsed.source,
      // Once the group is known: a waiting run this one will replace is no run to resume.
      beforeSubmit: async (group) => {
        interruptedHint = await interruptedRunHint(stores, workflow.name, group).catch(() => undefined);
      },
    }).catch((error: unknown) => {
      if (options.json === true) refusedForGroup(error, workflow);
      throw error;
    });
    // A duplicate key or a full queue: nothing was created, and the concurrency group was not joined.
    if (start.kind !== 'started') return await reportNotStarted(start, report);
    local = start.local;
    signals.drive(local.handle);
    const status: RunStatus = await runEnd(local.handle);
    signals.runEnded();
    const unstarted = wait.endedWaiting(local.handle.id, status);
    if (unstarted !== undefined) process.stderr.write(unstarted);
    return runExitCode(status, signals);
  } finally {
    await local?.close();
    view.close();
    out.flush();
    signals.unlisten();
    await stores.close();
  }
}

/**
 * With --json, the line that says why nothing was created when the workflow's concurrency group could
 * not be evaluated (VK_EXPRESSION), as `run.refused` says it for a full queue; stderr has the message.
 */
function refusedForGroup(error: unknown, workflow: Workflow): void {
  if (!isValkyrieError(error) || error.code !== 'VK_EXPRESSION') return;
  const at = error instanceof WorkflowGroupError ? error.at : workflow.concurrency?.at;
  const where = at === undefined ? {} : { file: workflow.path, line: at.line, col: at.col };
  const line = { type: 'run.refused', code: error.code, message: error.message, ...where };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** The event the run starts as (`--event`, else chosen from `on:`); a usage error when `on:` rules it out. */
function runEvent(triggers: readonly string[], options: RunCommandOptions): string {
  const choice = chooseEvent(triggers, options.event, Object.keys(options.input ?? {}).length > 0);
  if ('problem' in choice) throw new UsageError(choice.problem);
  return choice.event;
}

function parseConcurrency(value: string | undefined): number {
  if (value === undefined) return availableParallelism();
  const n = Number(value);
  if (Number.isInteger(n) && n >= 1) return n;
  // `-j build` is act's job selector; here -j is --jobs, the concurrency limit.
  const jobIds = value.split(',').every(looksLikeJobId);
  const hint = jobIds ? ' (did you mean --job? --jobs is how many jobs run at once)' : '';
  throw new UsageError(`--jobs must be a positive integer, received ${JSON.stringify(value)}${hint}`);
}
