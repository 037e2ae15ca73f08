import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { RunStatus } from '../../core/outcome.js';
import { interruptedReason } from '../../engine/cancel-reasons.js';
import type { RunEvent } from '../../engine/events.js';
import { warmUpSpawner } from '../../executors/shell/index.js';
import { describeHost, runnerLabels } from '../../runner/host.js';
import { formatDiagnostics } from '../../workflow/diagnostics.js';
import { resolveInputs } from '../../workflow/inputs.js';
import { looksLikeJobId } from '../../workflow/job-selection.js';
import { loadWorkflow } from '../../workflow/parse.js';
import { chooseEvent } from '../../workflow/triggers.js';
import { type Admission, admitRun, runGroup } from '../concurrency-admission.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { readGitContext } from '../git-info.js';
import { selectedWorkflow } from '../job-option.js';
import { readDotenv } from '../key-values.js';
import { type LocalRun, startLocalRun } from '../local-mode.js';
import { parseQueueFlags, type QueueFlags } from '../queue-options.js';
import { interruptedRunHint, runEnd } from '../run-recovery.js';
import { openStores, stateDirectory } from '../state.js';
import { refusedBeforeJoining } from '../submission-check.js';
import { reportNotStarted } from '../submission-report.js';
import { BufferedOutput } from '../views/buffered-output.js';
import { createView } from '../views/create-view.js';
import { findDefaultWorkflow } from '../workflow-file.js';

export interface RunCommandOptions extends QueueFlags {
  readonly jobs?: string;
  /** `--job`: run only these jobs and the jobs they need. */
  readonly job?: string[];
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
  // milliseconds to start: start it while the workflow is parsed. `auto` starts its own at the first step.
  warmUpSpawner();
  const cwd = process.cwd();
  const path = file ?? findDefaultWorkflow(cwd);
  const concurrency = parseConcurrency(options.jobs);
  const queue = parseQueueFlags(options, Date.now());
  const host = describeHost();
  const labels = runnerLabels(host, options.label ?? []);
  const parsed = await loadWorkflow(path, {
    runnerLabels: labels,
    ...(options.job ? { jobs: options.job } : {}),
  });
  if (parsed.diagnostics.length > 0) {
    process.stderr.write(`${formatDiagnostics(path, parsed.source, parsed.diagnostics)}\n`);
  }
  if (!parsed.workflow) return ExitCode.invalid;
  const workflow = selectedWorkflow(parsed.workflow, options.job, path);
  const inputs = resolveInputs(workflow.inputs, options.input ?? {});
  const event = runEvent(workflow.triggers, options);
  const secrets = { ...(options.secretsFile ? readDotenv(options.secretsFile) : {}), ...options.secret };

  const stateDir = stateDirectory(options.stateDir, cwd);
  const stores = await openStores(options.db, stateDir);
  process.stderr.write((await interruptedRunHint(stores, parsed.workflow.name).catch(() => undefined)) ?? '');
  const out = new BufferedOutput(process.stdout);
  const view = createView(options, out);
  let interrupts = 0;
  let terminated = false;
  // The first signal's: that is why the run stops, whatever signal kills it after.
  let interruption = '';
  // Set when a newer run of the workflow's concurrency group asks this one to cancel.
  let groupCancel: string | undefined;
  let local: LocalRun | undefined;
  let admission: Admission | undefined;
  // Ctrl-C while the run waits for its concurrency group leaves the group instead.
  const waiting = new AbortController();
  const interrupt = (signal: 'SIGINT' | 'SIGTERM') => {
    interrupts++;
    if (interrupts === 1) process.stderr.write('\nCancelling the run (Ctrl-C again to kill at once)…\n');
    interruption ||= interruptedReason(signal);
    waiting.abort();
    local?.handle.cancel(interrupts > 1, interruption);
  };
  const onSigterm = () => {
    terminated = true;
    interrupt('SIGTERM');
  };
  const onSigint = () => interrupt('SIGINT');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  try {
    const onEvent = (event: RunEvent) => view.onEvent(event);
    const workspace = resolve(cwd);
    const vars = options.var ?? {};
    // Read once, for the concurrency group's expression and the run's context alike.
    const git = readGitContext(workspace, event === 'push');
    const report = {
      idempotencyKey: queue.idempotency?.key,
      json: options.json === true,
      stores,
      workflowName: workflow.name,
    };
    // A duplicate or a run refused for capacity changes nothing, so it must not join the group.
    const group = runGroup({ workflow, workspace, git, vars, inputs, eventName: event });
    const refused = await refusedBeforeJoining(stores, workflow, group, queue, Date.now());
    if (refused !== undefined) return await reportNotStarted(refused, report);
    admission = await admitRun(
      {
        workflow,
        stores,
        workspace,
        git,
        vars,
        inputs,
        eventName: event,
        onEvent,
        signal: waiting.signal,
        ...(queue.idempotency === undefined ? {} : { idempotencyKey: queue.idempotency.key }),
      },
      (reason) => {
        groupCancel = reason;
        local?.handle.cancel(false, reason);
      },
    );
    // Replaced before it started, or cancelled by a newer run of its group: cancelled, as by Ctrl-C.
    if (admission.kind === 'replaced') return ExitCode.interrupted;
    if (admission.kind === 'aborted') return terminated ? ExitCode.terminated : ExitCode.interrupted;
    const start = await startLocalRun({
      workflow,
      ...(options.job === undefined ? {} : { selectedJobs: options.job }),
      ...(admission.kind === 'admitted' ? { groupMember: admission.hold.memberId } : {}),
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
      queue,
      source: parsed.source,
    });
    // Found only now (a submission with the same key, or for the capacity, got in since the check
    // above): nothing was created; the finally below leaves the group at once.
    if (start.kind !== 'started') return await reportNotStarted(start, report);
    local = start.local;
    if (interrupts > 0) local.handle.cancel(interrupts > 1, interruption);
    else if (groupCancel !== undefined) local.handle.cancel(false, groupCancel);
    const status: RunStatus = await runEnd(local.handle);
    if (interrupts > 0) return terminated ? ExitCode.terminated : ExitCode.interrupted;
    // Cancelled by its concurrency group (the run's or a job's): the code of a cancelled run.
    if (status === 'cancelled') return ExitCode.interrupted;
    return status === 'succeeded' ? ExitCode.succeeded : ExitCode.jobFailed;
  } finally {
    await local?.close();
    if (admission?.kind === 'admitted') await admission.hold.release();
    view.close();
    out.flush();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigterm);
    await stores.close();
  }
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
