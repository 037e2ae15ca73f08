import { systemClock } from '../core/clock.js';
import type { RunId } from '../core/ids.js';
import type { StoredRunRequest } from '../store/recovery.js';
import type { Stores } from '../store/store.js';
import { RunHeartbeat } from './run-heartbeat.js';
import { thisProcess } from './run-owner.js';

/**
 * Makes a run that this process has just created resumable: stores the workflow text and the request
 * (without secret values), records this process as its owner, and keeps its heartbeat fresh until
 * the returned `stop` is called.
 */
export function recordResumable(
  stores: Stores,
  runId: RunId,
  source: string,
  request: StoredRunRequest,
  lost: () => void,
): { stop(): void } {
  const owner = thisProcess();
  void stores.recovery
    .saveResumable(runId, { source, request }, { owner, heartbeatAt: systemClock.now() })
    // Without it the run goes on, only it cannot be resumed; `valkyrie resume` says so.
    .catch(() => {});
  return keepOwnership(stores, runId, lost);
}

/** The heartbeat of a run this process owns; `lost` once if another process takes the run over. */
export function keepOwnership(stores: Stores, runId: RunId, lost: () => void): { stop(): void } {
  const heartbeat = new RunHeartbeat(stores.recovery, runId, thisProcess(), systemClock, lost);
  heartbeat.start();
  return heartbeat;
}
