import { systemClock } from '../core/clock.js';
import type { RunId } from '../core/ids.js';
import { runLiveness } from '../engine/run-liveness.js';
import { ownerExited } from '../engine/run-owner.js';
import type { Stores } from '../store/store.js';

/** What a CLI process prints when another process takes over the run it drives. */
export function warnTakenOver(runId: RunId): () => void {
  return () =>
    process.stderr.write(`valkyrie: another process has taken run ${runId} over (valkyrie resume --force)\n`);
}

/**
 * One line naming the newest interrupted run of the workflow among the latest runs, for `valkyrie run`
 * to print before it starts a new one; undefined when there is none. Two cheap reads.
 */
export async function interruptedRunHint(stores: Stores, workflowName: string): Promise<string | undefined> {
  const candidates = (await stores.runs.listRuns({ limit: 20 })).filter(
    (run) => run.workflowName === workflowName && (run.status === 'queued' || run.status === 'running'),
  );
  if (candidates.length === 0) return undefined;
  const ownerships = await stores.recovery.ownerships(candidates.map((run) => run.id));
  const now = systemClock.now();
  const interrupted = candidates.find(
    (run) => runLiveness(run.status, ownerships.get(run.id), now, ownerExited).kind === 'interrupted',
  );
  return (
    interrupted &&
    `valkyrie: run ${interrupted.id} of ${workflowName} was interrupted; continue it with: valkyrie resume ${interrupted.id}\n`
  );
}
