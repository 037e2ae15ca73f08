import { ValkyrieError } from '../core/errors.js';
import type { ActiveRun } from './active-run.js';
import type { LegOwners } from './leg-owners.js';

/*
 * Runs this control plane gives up: another process owns them now (its heartbeat found them taken,
 * or the store refused a write of them: store/run-fence.ts), or a store write failed (run-end.ts).
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
 * runner told to stop, its offer dropped, its job group place left to whoever takes the run over), and
 * its `done` rejects with VK_RUN_TAKEN_OVER, which gives up its place in its workflow's group, also
 * while it waits for it — unless `handedOff`: then that place too is left, for the replica it is
 * handed to to adopt (ActiveRun.handedOff).
 * False, and nothing done, when `runs` has no such run, it was abandoned already, or it is completing.
 */
export function abandonRun(
  runs: RunsById,
  legs: LegOwners,
  runId: string,
  stopLeg: (legId: string) => void,
  handedOff = false,
): boolean {
  const run = runs.get(runId);
  // A completing run only once a write of it was refused: that may be its end, which must not be announced.
  if (run === undefined || run.abandoned || (run.completing && !run.refused)) return false;
  run.handedOff = handedOff;
  giveUpRun(run, legs, stopLeg, takenOverError(runId));
  return true;
}

/**
 * Gives `run` up here: its legs leave `legs` (the runs by leg), each after `stopLeg`, nothing more of
 * it is written or announced, and its `done` rejects with `error` (which also gives up its place in
 * its workflow's group). A second call is a no-op.
 */
export function giveUpRun(
  run: ActiveRun,
  legs: LegOwners,
  stopLeg: (legId: string) => void,
  error: unknown,
): void {
  if (run.abandoned) return;
  run.completing = true;
  run.abandoned = true;
  legs.deleteRun(run, stopLeg);
  run.reject(error);
}

/** Gives every run in `runs` up (giveUpRun) with `error`: also those waiting for their group. */
export function giveUpAll(
  runs: Iterable<ActiveRun>,
  legs: LegOwners,
  stopLeg: (legId: string) => void,
  error: unknown,
): void {
  for (const run of [...runs]) giveUpRun(run, legs, stopLeg, error);
}

/** What a run's `done` rejects with once another process has taken it over. */
export function takenOverError(runId: string): ValkyrieError {
  return new ValkyrieError('VK_RUN_TAKEN_OVER', `run ${runId} was taken over by another process`);
}
