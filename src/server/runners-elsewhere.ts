import { asRunId } from '../core/ids.js';
import type { ApiContext } from './context.js';
import type { FleetRunnerView, RunnerDirectory } from './runner-directory.js';
import type { RunView } from './schemas.js';

/** At most this many are named per job: enough to say where to look, not the whole fleet. */
const namedAtMost = 5;

type RunnerElsewhere = NonNullable<RunView['jobs'][number]['runnersElsewhere']>[number];
type RunHandoffView = NonNullable<RunView['jobs'][number]['handoff']>;

/**
 * Names, for each job of `view` that waits for a runner with its labels, the runners connected to
 * another replica that would take it: a run's jobs are offered only to runners connected to the
 * replica that drives it (docs/replicas.md), so without this a submitter reads "no connected runner has
 * it" while the runner list shows one; and, with `handoff`, whether the run moves to their replica
 * (run-handoff.ts). The directory is read only when some job waits, `handoff` when some runner is named.
 */
export async function withRunnersElsewhere(
  view: RunView,
  directory: Pick<RunnerDirectory, 'list' | 'replica'>,
  handoff?: (runId: string) => Promise<RunHandoffView | undefined>,
): Promise<RunView> {
  if (!view.jobs.some(waitsForAnyRunner)) return view;
  let listed: FleetRunnerView[];
  try {
    listed = await directory.list();
  } catch {
    // A hint only: a submit whose run exists must not answer an error (a retry would submit again).
    return view;
  }
  const others = takingJobsElsewhere(listed, directory.replica);
  if (others.length === 0) return view;
  const jobs = view.jobs.map((job) => {
    if (!waitsForAnyRunner(job)) return job;
    const elsewhere = others.filter((runner) => hasAll(runner, job.noRunnerWith)).slice(0, namedAtMost);
    return elsewhere.length === 0 ? job : { ...job, runnersElsewhere: elsewhere.map(nameAndReplica) };
  });
  const moves = jobs.some((job) => job.runnersElsewhere !== undefined)
    ? await handoff?.(view.id).catch(() => undefined)
    : undefined;
  if (moves === undefined) return { ...view, jobs };
  return {
    ...view,
    jobs: jobs.map((job) => (job.runnersElsewhere === undefined ? job : { ...job, handoff: moves })),
  };
}

/**
 * Whether a run driven here that waits for runners connected elsewhere moves to them (RunHandoff):
 * `pending` unless it stays for its secrets; undefined when it was cancelled (it stays, and its jobs
 * that wait are those that run after a cancel) or without its stored request (another replica could
 * not continue it).
 */
export async function runHandoffView(
  context: Pick<ApiContext, 'controlPlane' | 'stores'>,
  runId: string,
): Promise<RunHandoffView | undefined> {
  const check = context.controlPlane.handoffCheck(runId);
  if (check.kind === 'stays' && check.why === 'cancelling') return undefined;
  const resumable = await context.stores.recovery.getResumable(asRunId(runId));
  if (resumable?.request.driver !== 'server') return undefined;
  return resumable.request.secretNames.length > 0 ? 'secrets' : 'pending';
}

type WaitingJobView = RunView['jobs'][number] & { readonly noRunnerWith: string[] };

/** Waits for a runner with its labels, none of this replica's having them (not: drained here). */
function waitsForAnyRunner(job: RunView['jobs'][number]): job is WaitingJobView {
  return job.noRunnerWith !== undefined && job.setAside === undefined;
}

/** The runners listed that take jobs (online, connected) and are connected to another replica than `replica`. */
export function takingJobsElsewhere(listed: readonly FleetRunnerView[], replica: string): FleetRunnerView[] {
  return listed.filter(
    (runner) => runner.connected && runner.mode === 'online' && runner.replica !== replica,
  );
}

/** Labels match whatever their case, as the dispatcher matches them. */
export function hasAll(runner: FleetRunnerView, labels: readonly string[]): boolean {
  const has = new Set(runner.labels.map((label) => label.toLowerCase()));
  return labels.every((label) => has.has(label.toLowerCase()));
}

function nameAndReplica(runner: FleetRunnerView): RunnerElsewhere {
  return { id: runner.id, name: runner.name, replica: runner.replica ?? 'unknown' };
}
