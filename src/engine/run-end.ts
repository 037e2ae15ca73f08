import type { RunStatus } from '../core/outcome.js';
import type { ActiveRun } from './active-run.js';
import type { RunEvent } from './events.js';
import { takenOverError } from './run-refusals.js';
import type { StoreWrites } from './store-writes.js';

/**
 * Stores the end of a run whose jobs have all ended (`end`: the run's status update), then settles
 * it (`settled`, see settleRun). The end is written only once every write made before it has
 * settled, and not at all once the run is abandoned (abandonRun, or a write failed: any earlier
 * write of the run may be the one that failed). A run stored as finished is therefore one whose every
 * change reached the store, and one that lost a write is left unfinished — `interrupted`, for
 * `valkyrie resume`. Written together with the last jobs' updates, the end could land after one of
 * them failed: stores carry on with the writes after a failed one.
 */
export function storeRunEnd(
  writes: StoreWrites,
  run: ActiveRun,
  end: () => Promise<void>,
  settled: () => void,
): void {
  writes.afterAll(() => {
    if (run.abandoned || run.refused) {
      settled();
      return;
    }
    writes.write(end);
    writes.afterAll(settled);
  });
}

/**
 * Settles the `done` of a run whose writes, its end's included, have all settled: it rejects when
 * this process gave the run up (abandonRun rejected it already, with why; a hook that was told the
 * store refused a write of it may not have called abandonRun); otherwise `announce` tells of its end,
 * and it resolves.
 */
export function settleRun(run: ActiveRun, status: RunStatus, announce: () => void): void {
  if (run.abandoned || run.refused) run.reject(takenOverError(run.id));
  else
    try {
      announce();
    } finally {
      run.resolve(status);
    }
}

/**
 * When a run whose jobs have all ended ended: when its last job did, which may be well before now (a
 * job's end is its runner's report of it, which may arrive late: JobLifecycle.jobCompleted); never
 * before the run started nor after `now`, and `now` for a run with no job.
 */
export function runEndedAt(run: ActiveRun, now: number): number {
  let last: number | undefined;
  for (const { finishedAt } of run.coordinator.plannedLegs())
    if (finishedAt !== undefined && (last === undefined || finishedAt > last)) last = finishedAt;
  return last === undefined ? now : Math.min(now, Math.max(run.startedAt, last));
}

/** The `run.completed` event of a run that ended `status` at `finishedAt`. */
export function completedEvent(run: ActiveRun, status: RunStatus, finishedAt: number): RunEvent {
  const durationMs = finishedAt - run.startedAt;
  return { type: 'run.completed', runId: run.id, status, durationMs, jobs: run.coordinator.summaries() };
}
