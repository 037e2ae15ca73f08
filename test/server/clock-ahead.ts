import { type Clock, systemClock } from '../../src/core/clock.js';

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
