import { type Clock, systemClock } from '../../src/core/clock.js';
import { asRunId } from '../../src/core/ids.js';
import type { Stores } from '../../src/store/store.js';

/** A clock `aheadMs` ahead of the wall clock, which `advance` moves further on; its timers stay real. */
export interface ClockAhead extends Clock {
  advance(ms: number): void;
}

/**
 * The wall clock `aheadMs` on. A server on it judges a run's heartbeat by its own "now": one written
 * 10 s behind is stale (6 s, run-liveness.ts) at its next sweep, with no real wait. Moving it on by
 * 10 s does the same for the heartbeat the server itself last wrote, a claim of the run included.
 */
export function clockAhead(aheadMs: number): ClockAhead {
  let offset = aheadMs;
  return {
    now: () => systemClock.now() + offset,
    setTimer: (callback, delayMs, options) => systemClock.setTimer(callback, delayMs, options),
    advance(ms) {
      offset += ms;
    },
  };
}

/** Waits until a server running `clock` has claimed the run: its heartbeat is that server's. */
export async function takenOverBy(stores: Stores, runId: string, clock: Clock): Promise<void> {
  const since = clock.now();
  for (let tries = 0; tries < 250; tries++) {
    const ownership = (await stores.recovery.ownerships([asRunId(runId)])).get(asRunId(runId));
    if (ownership !== undefined && ownership.heartbeatAt >= since) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`run ${runId} was not taken over`);
}
