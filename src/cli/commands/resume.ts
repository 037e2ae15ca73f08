import { availableParallelism } from 'node:os';
import { ValkyrieError } from '../../core/errors.js';
import { asRunId } from '../../core/ids.js';
import type { RunStatus } from '../../core/outcome.js';
import { endReplacedRun, placeReplaced } from '../../engine/replaced-runs.js';
import type { RerunScope } from '../../engine/rerun-plan.js';
import { startRerun } from '../../engine/rerun-start.js';
import { type Liveness, runLiveness, staleHeartbeatMs } from '../../engine/run-liveness.js';
import { ownerExited, thisProcess } from '../../engine/run-owner.js';
import { closeInterruptedSteps, givePlacesUp, whenLost } from '../../engine/run-ownership.js';
import { parseStoredWorkflow } from '../../engine/stored-workflow.js';
import { warmUpSpawner } from '../../executors/shell/index.js';
import { describeHost, type HostDescription, runnerLabels } from '../../runner/host.js';
import type { ResumableRun } from '../../store/recovery.js';
import type { JobRecord, RunRecord } from '../../store/runs.js';
import type { Stores } from '../../store/store.js';
import { formatDiagnostics } from '../../workflow/diagnostics.js';
import type { Workflow } from '../../workflow/model.js';
import { type ApiClientFlags, serverGiven } from '../client-flags.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { GroupWait } from '../group-wait.js';
import { checkedSecrets } from '../key-values.js';
import type { LocalRun } from '../local-mode.js';
import { type ContinueHow, resumeLocalRun } from '../local-resume.js';
import { noteRunNotInLocalStore } from '../local-store-note.js';
import { runExitCode } from '../run-exit.js';
import { runEnd } from '../run-recovery.js';
import { RunSignals } from '../run-signals.js';
import { checkTempDir } from '../run-temp-root.js';
import { openStores, stateDirectory } from '../state.js';
import { BufferedOutput } from '../views/buffered-output.js';
import { createView } from '../views/create-view.js';
import type { RunView } from '../views/view.js';

export interface RerunCommandOptions extends ResumeCommandOptions, ApiClientFlags {
  readonly follow?: boolean;
  /** Every job, not only the failed ones (GitHub's "Re-run all jobs"). */
  readonly all?: boolean;
}

export interface ResumeCommandOptions {
  readonly jobs?: string;
  /** Refused: the run's own selection (valkyrie run --job) holds. */
  readonly job?: string;
  /** Refused: the run's own legs (valkyrie run --matrix) hold. */
  readonly matrix?: string;
  readonly force?: boolean;
  readonly secret?: Record<string, string>;
  readonly secretsFile?: string;
  readonly json?: boolean;
  readonly color?: boolean;
  readonly stateDir?: string;
  readonly db?: string;
}

/**
 * `valkyrie resume RUN`: continues a run whose process died. Refuses a finished run, and one whose
 * owner is alive (unless --force); takes the run over with a compare-and-set on its ownership, so of
 * two resumes only one proceeds. Output and exit codes are those of `valkyrie run`.
 */
export function resumeCommand(id: string, options: ResumeCommandOptions): Promise<number> {
  refuseJobSelection(options, 'resume');
  return continueCommand(id, options, checkedSecrets(options), 'resume');
}

/**
 * `valkyrie rerun RUN`: runs the failed jobs of a finished run again, and the jobs after them, as new
 * attempts of the same jobs (GitHub's "Re-run failed jobs"); with `--all`, every job of a finished
 * run, a succeeded one too ("Re-run all jobs"). Reopens the run with a compare-and-set on
 * its finished status, so of two re-runs only one proceeds. Output and exit codes are those of
 * `valkyrie run`.
 */
export async function rerunCommand(id: string, options: RerunCommandOptions): Promise<number> {
  refuseJobSelection(options, 'rerun');
  // Checked as run and submit check them, before the store is opened or the server asked.
  const secrets = checkedSecrets(options);
  if (serverGiven(options)) {
    // The server's runners take its jobs as their capacity allows: a cap here would do nothing.
    if (options.jobs !== undefined)
      throw new UsageError("--jobs is for a local run; a server's runs take as many runners as are free");
    const { serverRerunCommand } = await import('./server-rerun.js');
    return serverRerunCommand(id, { ...options, secrets });
  }
  return continueCommand(id, options, secrets, 'rerun', options.all === true ? 'all' : 'failed');
}

async function continueCommand(
  id: string,
  options: ResumeCommandOptions,
  secrets: Readonly<Record<string, string>>,
  how: ContinueHow,
  scope: RerunScope = 'failed',
): Promise<number> {
  warmUpSpawner();
  const cwd = process.cwd();
  const stateDir = stateDirectory(options.stateDir, cwd, { nearest: true });
  checkTempDir();
  // A run to continue is in a store that exists: a mistyped --state-dir or --db creates none.
  const stores = await openStores(options.db, stateDir, { create: false, watch: true });
  const out = new BufferedOutput(process.stdout);
  let local: LocalRun | undefined;
  // The view is made once the run is claimed, before the signals are listened for.
  let view: RunView | undefined;
  const signals = new RunSignals(
    () => out.flush(),
    (write) => (view === undefined ? write() : view.aside(write)),
  );
  try {
    const record = await stores.runs.getRun(asRunId(id));
    if (!record) {
      // rerun reads a server's runs too (--server, VALKYRIE_SERVER); resume has only local ones.
      if (how === 'rerun') noteRunNotInLocalStore(options, id);
      throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run ${JSON.stringify(id)}; see: valkyrie runs`);
    }
    const host = describeHost();
    const start =
      how === 'resume'
        ? await claimForResume(stores, record, secrets, host, options.force === true)
        : await reopenForRerun(stores, record, scope, secrets, host);
    if (start === undefined) return ExitCode.invalid;
    if ('replaced' in start) {
      process.stderr.write(
        `valkyrie: run ${record.id} was replaced by a newer run of concurrency group ${start.replaced} ` +
          'before it started, so it does not run: it is recorded cancelled, and none of its steps ran\n',
      );
      return ExitCode.interrupted;
    }
    // As the server's re-run says it (server-rerun.ts), on stderr: --json keeps stdout to its events.
    if (how === 'rerun') {
      const which = scope === 'all' ? 'all the jobs' : 'the failed jobs';
      process.stderr.write(`Re-running ${which} of run ${record.id} on this machine.\n`);
    }
    const { workflow, resumable, record: owned, jobs, ownerExited, lostAt } = start;
    const shown = createView(options, out);
    view = shown;
    const wait = new GroupWait();
    signals.listen();
    try {
      local = await resumeLocalRun({
        workflow,
        stores,
        stateDir,
        host,
        concurrency: parseJobs(options.jobs) ?? resumable.request.concurrency ?? availableParallelism(),
        secrets,
        request: resumable.request,
        record: owned,
        jobs,
        how,
        rerunScope: scope,
        ownerExited,
        lostAt,
        onEvent: (event) => {
          wait.onEvent(event);
          shown.onEvent(event);
        },
      });
      // A Ctrl-C while the in-process runner registered found no run to cancel yet.
      signals.drive(local.handle);
      const status: RunStatus = await runEnd(local.handle);
      signals.runEnded();
      const unstarted = wait.endedWaiting(local.handle.id, status);
      if (unstarted !== undefined) process.stderr.write(unstarted);
      return runExitCode(status, signals);
    } finally {
      await local?.close();
      shown.close();
    }
  } finally {
    out.flush();
    signals.unlisten();
    await stores.close();
  }
}

interface ContinuedRun {
  readonly workflow: Workflow;
  readonly resumable: ResumableRun;
  /** As it is now that this process owns it (a re-run has moved its attempt on). */
  readonly record: RunRecord;
  readonly jobs: readonly JobRecord[];
  /** Resumed from a process of this host that no longer exists (not a stalled one, nor after --force). */
  readonly ownerExited: boolean;
  /** A resume's: when each job the run's last owner lost ended (ContinueRunOptions.lostAt). */
  readonly lostAt?: ReadonlyMap<string, number>;
}

/**
 * Takes an interrupted run over (compare-and-set on its ownership); undefined when its workflow no longer
 * parses; `replaced` (the group) when a newer run of its workflow's group replaced it before it started,
 * having recorded it cancelled.
 */
async function claimForResume(
  stores: Stores,
  record: RunRecord,
  secrets: Readonly<Record<string, string>>,
  host: HostDescription,
  force: boolean,
): Promise<ContinuedRun | { readonly replaced: string } | undefined> {
  const stored = await stores.recovery.getResumable(record.id);
  const liveness = runLiveness(record.status, stored?.ownership, Date.now(), ownerExited);
  const resumable = refuseUnlessResumable(record, stored, liveness, force);
  const workflow = parseStored(resumable, record, host);
  if (!workflow) return undefined;
  const missing = resumable.request.secretNames.filter((name) => !(name in secrets));
  if (missing.length > 0) throw missingSecrets(record, missing);
  const owner = { owner: thisProcess(), heartbeatAt: Date.now() };
  if ((await stores.recovery.claim(record.id, resumable.ownership, owner)).kind === 'lost') {
    throw new ValkyrieError(
      'VK_RUN_NOT_RESUMABLE',
      `run ${record.id} was taken over or finished by another process first; see: valkyrie show ${record.id}`,
    );
  }
  // A newer run of its group took its place while it waited (its process died before it could record
  // that): it ends as it would have, cancelled, never started (GitHub's "the replaced run never starts").
  const group = record.startedAt === undefined ? record.concurrency?.group : undefined;
  if (group !== undefined && (await placeReplaced(stores, record.id, group))) {
    await endReplacedRun(stores, record.id, group, Date.now());
    return { replaced: group };
  }
  const jobs = await stores.runs.listJobs(record.id);
  // Its lost job and steps ended when their loss became evident (whenLost), not now.
  const now = Date.now();
  const lost = await whenLost(stores, record.id, jobs, resumable.ownership?.heartbeatAt ?? now, now);
  await closeInterruptedSteps(stores, jobs, now, lost);
  const lostAt = lost.seen;
  // The run waits for its workflow's group again (local-resume.ts), not behind its dead process's place;
  // its jobs find theirs and adopt them (job-concurrency.ts). Not after --force: that owner may live.
  const exited = liveness.kind === 'interrupted' && liveness.why === 'owner_exited';
  if (exited) await givePlacesUp(stores, record.id, resumable.request, Date.now(), { jobs: false });
  const current = (await stores.runs.getRun(record.id)) ?? record;
  return { workflow, resumable, record: current, jobs, ownerExited: exited, lostAt };
}

/** Reopens a finished run for a re-run of `scope`; undefined when its workflow no longer parses. */
async function reopenForRerun(
  stores: Stores,
  record: RunRecord,
  scope: RerunScope,
  secrets: Readonly<Record<string, string>>,
  host: HostDescription,
): Promise<ContinuedRun | undefined> {
  const owner = { owner: thisProcess(), heartbeatAt: Date.now() };
  const parse = (resumable: ResumableRun) => parseStored(resumable, record, host);
  const start = await startRerun(stores, record, 'local', scope, secrets, parse, owner);
  if (start.kind === 'reopened') return { ...start, ownerExited: false };
  if (start.kind === 'queue_full')
    throw new Error('a re-run without a queue capacity was refused as queue_full');
  switch (start.why) {
    case 'invalid_workflow':
      return undefined;
    case 'missing_secrets':
      throw missingSecrets(record, start.missingSecrets);
    case 'taken':
      throw new ValkyrieError('VK_RUN_NOT_RERUNNABLE', `${start.message}; see: valkyrie show ${record.id}`);
    case 'workspace_gone':
      throw new ValkyrieError('VK_BUNDLE_NOT_FOUND', start.message);
    case 'not_rerunnable': {
      const hint = record.status === 'running' ? `; if its process died: valkyrie resume ${record.id}` : '';
      throw new ValkyrieError('VK_RUN_NOT_RERUNNABLE', `${start.message}${hint}`);
    }
  }
}

/** The stored workflow text, parsed for this host's runner and narrowed to the run's jobs; its diagnostics go to stderr. */
function parseStored(
  resumable: ResumableRun,
  record: RunRecord,
  host: HostDescription,
): Workflow | undefined {
  const labels = runnerLabels(host, resumable.request.extraLabels);
  const parsed = parseStoredWorkflow(resumable, record.workflowPath, { runnerLabels: labels });
  if (parsed.diagnostics.length > 0)
    process.stderr.write(`${formatDiagnostics(record.workflowPath, resumable.source, parsed.diagnostics)}\n`);
  return parsed.workflow;
}

function missingSecrets(record: RunRecord, missing: readonly string[]): UsageError {
  return new UsageError(
    `run ${record.id} was started with secrets ${missing.join(', ')}, which are not stored; pass them ` +
      `again: ${missing.map((name) => `--secret ${name}=…`).join(' ')} (or --secrets-file FILE)`,
  );
}

function refuseUnlessResumable(
  record: RunRecord,
  resumable: ResumableRun | undefined,
  liveness: Liveness,
  force: boolean,
): ResumableRun {
  if (liveness.kind === 'finished') {
    throw new ValkyrieError(
      'VK_RUN_NOT_RESUMABLE',
      `run ${record.id} already finished (${record.status}); nothing to resume`,
    );
  }
  if (!resumable) {
    throw new ValkyrieError(
      'VK_RUN_NOT_RESUMABLE',
      `run ${record.id} has no recovery data (it was not started by this version of valkyrie run)`,
    );
  }
  if (liveness.kind === 'alive' && !force) {
    const { owner } = liveness.ownership;
    throw new ValkyrieError(
      'VK_RUN_NOT_RESUMABLE',
      `run ${record.id} is still running: process ${owner.pid} on ${owner.host} sent a heartbeat ` +
        `${(liveness.ageMs / 1000).toFixed(1)}s ago. If that process is gone, retry once the heartbeat is ` +
        `older than ${staleHeartbeatMs / 1000}s, or pass --force`,
    );
  }
  if (resumable.request.driver === 'server') {
    throw new ValkyrieError(
      'VK_RUN_NOT_RESUMABLE',
      `run ${record.id} was submitted to a server, which takes it over by itself once its driver is gone`,
    );
  }
  return resumable;
}

/**
 * A stored run keeps the jobs and legs it was started with (engine/stored-workflow.ts): there are none
 * to choose.
 */
function refuseJobSelection(options: ResumeCommandOptions, how: ContinueHow): void {
  if (options.matrix !== undefined) {
    throw new UsageError(
      `valkyrie ${how} takes no --matrix: it continues the matrix legs the run was started with (valkyrie run --matrix chose them)`,
    );
  }
  if (options.job === undefined) return;
  throw new UsageError(
    `valkyrie ${how} takes no --job: it continues the jobs the run was started with (valkyrie run --job chose them); --jobs N is how many run at once`,
  );
}

function parseJobs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError(`--jobs must be a positive integer, received ${JSON.stringify(value)}`);
  return n;
}
