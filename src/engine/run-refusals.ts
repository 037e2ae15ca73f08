import { ValkyrieError } from '../core/errors.js';
import type { ActiveRun } from './active-run.js';

/*
 * Runs this control plane gives up because another process owns them now: its heartbeat found them
 * taken (abandonRun), or the store refused a write of them (store/run-fence.ts).
 */

/** The run of that id among `runs` (the control plane's, by leg); undefined when none is. */
export function findRun(runs: Iterable<ActiveRun>, runId: string): ActiveRun | undefined {
  for (const run of runs) if (run.id === runId) return run;
  return undefined;
}

/** The runs of `runIds` among `runs` not refused before, each once, marked refused now. */
export function newlyRefused(runs: Iterable<ActiveRun>, runIds: readonly string[]): ActiveRun[] {
  const found: ActiveRun[] = [];
  for (const runId of runIds) {
    const run = findRun(runs, runId);
    if (run === undefined || run.refused) continue;
    run.refused = true;
    found.push(run);
  }
  return found;
}

/** What a run's `done` rejects with once another process has taken it over. */
export function takenOverError(runId: string): ValkyrieError {
  return new ValkyrieError('VK_RUN_TAKEN_OVER', `run ${runId} was taken over by another process`);
}
