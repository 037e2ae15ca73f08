import { ValkyrieError } from '../core/errors.js';
import type { RunStatus } from '../core/outcome.js';
import type { ActiveRun } from './active-run.js';

/*
 * Runs this control plane gives up because another process owns them now: its heartbeat found them
 * taken (abandonRun), or the store refused a write of them (store/run-fence.ts).
 */

/** The control plane's runs, by id (ActiveRuns). */
interface RunsById {
  get(runId: string): ActiveRun | undefined;
}

/**
 * The store refused writes of `runIds`: another process owns them now (store/run-fence.ts). Each of
 * them among `runs` not refused before is marked refused and given up (`giveUp`: as when its
 * heartbeat finds it taken), once.
 */
export function giveUpRefused(
  runs: RunsById,
  runIds: readonly string[],
  giveUp: (runId: string) => void,
): void {
  for (const runId of runIds) {
    const run = runs.get(runId);
    if (run === undefined || run.refused) continue;
    run.refused = true;
    giveUp(runId);
  }
}

/**
 * ControlPlane.abandonRun: `runId`'s legs leave `legs` (the runs by leg), each after `stopLeg` (its
 * runner told to stop, its offer and group place dropped), and its `done` rejects with
 * VK_RUN_TAKEN_OVER (which gives up its place in its workflow's group, also while it waits for it).
 * False, and nothing done, when `runs` has no such run, it was abandoned already, or it is completing.
 */
export function abandonRun(
  runs: RunsById,
  legs: Map<string, ActiveRun>,
  runId: string,
  stopLeg: (legId: string) => void,
): boolean {
  const run = runs.get(runId);
  // A completing run only once a write of it was refused: that may be its end, which must not be announced.
  if (run === undefined || run.takenOver || (run.completing && !run.refused)) return false;
  run.completing = true;
  run.takenOver = true;
  for (const [legId, owner] of legs) {
    if (owner !== run) continue;
    stopLeg(legId);
    legs.delete(legId);
  }
  run.reject(takenOverError(runId));
  return true;
}

/** What a run's `done` rejects with once another process has taken it over. */
export function takenOverError(runId: string): ValkyrieError {
  return new ValkyrieError('VK_RUN_TAKEN_OVER', `run ${runId} was taken over by another process`);
}

/**
 * Settles the `done` of a run whose writes have all settled (`failure`: the first that failed): it
 * rejects when another process owns the run now (abandonRun rejected it already, or does so here if a
 * hook did not call it) or a write failed; otherwise `announce` tells of its end, and it resolves.
 */
export function settleRun(
  run: ActiveRun,
  status: RunStatus,
  failure: { readonly error: unknown } | undefined,
  announce: () => void,
): void {
  if (run.takenOver || run.refused) run.reject(takenOverError(run.id));
  else if (failure !== undefined) run.reject(failure.error);
  else
    try {
      announce();
    } finally {
      run.resolve(status);
    }
}
