import { asRunId } from '../core/ids.js';
import type { RunEvent } from '../engine/events.js';
import type { NoRunnerFields } from '../engine/job-records.js';
import type { ApiContext } from './context.js';
import type { RunView } from './run-view-schemas.js';
import type { FleetRunnerView, RunnerDirectory } from './runner-directory.js';

/** At most this many are named per job: enough to say where to look, not the whole fleet. */
const namedAtMost = 5;

type RunnerElsewhere = NonNullable<RunView['jobs'][number]['runnersElsewhere']>[number];
type RunHandoffView = NonNullable<RunView['jobs'][number]['handoff']>;

type Directory = Pick<RunnerDirectory, 'list' | 'replica'>;
type HandoffOf = (runId: string) => Promise<RunHandoffView | undefined>;

/**
 * Names, for each job of `view` that waits for a runner with its labels, the runners connected to
 * another replica that would take it: a run's jobs are offered only to runners connected to the
 * replica that drives it (docs/replicas.md), so without this a submitter reads "no connected runner has
 * it" while the runner list shows one; and, with `handoff`, whether the run moves to their replica
 * (run-handoff.ts). The directory is read only when some job waits, `handoff` when some runner is named.
 */
export async function withRunnersElsewhere(
  view: RunView,
  directory: Directory,
  handoff?: HandoffOf,
): Promise<RunView> {
  if (!view.jobs.some(waitsForAnyRunner)) return view;
  const others = await takingJobsElsewhereNow(directory);
  if (others.length === 0) return view;
  const jobs = view.jobs.map((job) => {
    const elsewhere = waitsForAnyRunner(job) ? runnersElsewhereFor(job.noRunnerWith, others) : undefined;
    return elsewhere === undefined ? job : { ...job, runnersElsewhere: elsewhere };
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

/** `view` as the API answers a run it starts or shows: withRunnersElsewhere, with the run's handoff. */
export async function toldRunView(context: ApiContext, view: Promise<RunView>): Promise<RunView> {
  return withRunnersElsewhere(await view, context.runners, (runId) => runHandoffView(context, runId));
}

/**
 * What withRunnersElsewhere adds to a waiting job's view, added to its `job.queued` as a run's event
 * stream sends it, for a client following the run (`valkyrie submit --follow`) to show the line
 * `valkyrie show` prints. Any other event is answered as it came, without reading the directory; so
 * is a waiting one whose runners could not be listed (a hint only). The returned function serves the
 * stream of run `runId`: events that come while a read is out share it, so a replayed run's many
 * waiting jobs cost one directory read (and one `handoff`), not one each. Never rejects.
 */
export function queuedWithRunnersElsewhere(
  runId: string,
  directory: Directory,
  waiting: (jobId: string) => NoRunnerFields,
  handoff?: HandoffOf,
): (event: RunEvent) => Promise<RunEvent> {
  const others = shareWhileInFlight(() => orAfter(takingJobsElsewhereNow(directory), []));
  const moves = shareWhileInFlight(() =>
    orAfter(
      Promise.resolve(handoff?.(runId)).catch(() => undefined),
      undefined,
    ),
  );
  return async (event) => {
    if (event.type !== 'job.queued' || !waitsForAnyRunner(event)) return event;
    // As the job is now, which the view would tell: a replayed event's job may run or be done already.
    const now = waiting(event.jobId);
    if (!waitsForAnyRunner(now)) return event;
    const elsewhere = runnersElsewhereFor(now.noRunnerWith, await others());
    if (elsewhere === undefined) return event;
    const moving = await moves();
    return { ...event, runnersElsewhere: elsewhere, ...(moving === undefined ? {} : { handoff: moving }) };
  };
}

/** The runners a job waiting for `labels` would be offered to on another replica (at most 5); undefined: none. */
function runnersElsewhereFor(
  labels: readonly string[],
  others: readonly FleetRunnerView[],
): RunnerElsewhere[] | undefined {
  const elsewhere = others.filter((runner) => hasAll(runner, labels)).slice(0, namedAtMost);
  return elsewhere.length === 0 ? undefined : elsewhere.map(nameAndReplica);
}

/** Those of the fleet taking jobs on another replica than this one; none when the list cannot be read. */
async function takingJobsElsewhereNow(directory: Directory): Promise<FleetRunnerView[]> {
  try {
    return takingJobsElsewhere(await directory.list(), directory.replica);
  } catch {
    // A hint only: a submit whose run exists must not answer an error (a retry would submit again).
    return [];
  }
}

/**
 * Past this, a lookup is given up and the event sent as it came: the stream holds every later event
 * (run.completed among them) behind it, and the store may be slow to answer.
 */
const lookupLimitMs = 2_000;

/** `promise`, or `fallback` once lookupLimitMs has passed without it. */
function orAfter<T>(promise: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), lookupLimitMs);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** `read`, whose calls made while an earlier one is still out share that one. */
function shareWhileInFlight<T>(read: () => Promise<T>): () => Promise<T> {
  let out: Promise<T> | undefined;
  return () => {
    if (out === undefined) {
      const reading = read().finally(() => {
        if (out === reading) out = undefined;
      });
      out = reading;
    }
    return out;
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

/** Waits for a runner with its labels, none of this replica's having them (not: drained here, nor this replica shutting down). */
function waitsForAnyRunner<Job extends NoRunnerFields>(
  job: Job,
): job is Job & { readonly noRunnerWith: readonly string[] } {
  return job.noRunnerWith !== undefined && job.setAside === undefined && job.serverClosing === undefined;
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
