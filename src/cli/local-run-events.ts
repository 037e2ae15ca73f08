import type { RunId } from '../core/ids.js';
import { sleep } from '../core/sleep.js';
import type { RunEvent } from '../engine/events.js';
import { runLiveness } from '../engine/run-liveness.js';
import { ownerExited } from '../engine/run-owner.js';
import { followStoredRun } from '../server/stored-run-follower.js';
import type { Stores } from '../store/store.js';
import type { RunCompleted } from './follow-run.js';

/** How often the store is read for new events: a local run's lines show within this. */
const pollMs = 250;
/** How often the run's owner is looked at: a run whose process died never completes. */
const livenessMs = 1_000;

/**
 * A run of this store's as another process runs it: its events, read from the store from its start
 * (followStoredRun, as a server replica follows a run it does not drive), handed to `show` until
 * run.completed, which it resolves with. Undefined when `stop` aborts, or once the run reads as
 * interrupted (its valkyrie process is gone, so it would never complete), which is said on stderr.
 */
export async function showLocalRunEvents(
  stores: Stores,
  runId: RunId,
  stop: AbortSignal,
  show: (event: RunEvent) => void,
): Promise<RunCompleted | undefined> {
  let completed: RunCompleted | undefined;
  let failure: unknown;
  const ended = new AbortController();
  const stopFollowing = followStoredRun(
    stores,
    runId,
    {
      event: (event) => {
        show(event);
        if (event.type === 'run.completed') completed = event;
      },
      end: () => ended.abort(),
    },
    {
      pollMs,
      logError: (error) => {
        failure = error;
      },
    },
  );
  const done = AbortSignal.any([stop, ended.signal]);
  try {
    while (!done.aborted) {
      await sleep(livenessMs, done);
      if (done.aborted) break;
      // The follower may have told run.completed while the store was read: that is how the run ended.
      if ((await interrupted(stores, runId)) && !done.aborted && completed === undefined) {
        process.stderr.write(`${interruptedRunLine(runId)}\n`);
        break;
      }
    }
  } finally {
    stopFollowing();
    // Its read under way ends before the caller closes the stores.
    if (!ended.signal.aborted)
      await new Promise((resolve) => ended.signal.addEventListener('abort', resolve));
  }
  if (failure !== undefined) throw failure;
  return completed;
}

/**
 * The run's ownership is read before its status: a run that finishes and whose process exits between
 * the two reads then reads as finished, not as a run whose owner is gone.
 */
async function interrupted(stores: Stores, runId: RunId): Promise<boolean> {
  const ownership = (await stores.recovery.ownerships([runId])).get(runId);
  const run = await stores.runs.getRun(runId);
  if (run === undefined) return false;
  return runLiveness(run.status, ownership, Date.now(), ownerExited).kind === 'interrupted';
}

/** What `valkyrie logs` (also `-f`) says of a local run whose valkyrie process is gone. */
export function interruptedRunLine(runId: string): string {
  return `valkyrie: run ${runId} was interrupted: its valkyrie process stopped; continue it with: valkyrie resume ${runId}`;
}
