import type { Clock as TimerClock } from '../core/clock.js';

/**
 * Time as the transports see it: keep-alives, long-poll holds, session expiry and reconnect backoff
 * all go through one of these, so tests drive time by hand instead of waiting for it.
 */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly id: unknown;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const timer = setTimeout(callback, ms);
    // A pending keep-alive or sweep must not keep a process alive on its own.
    timer.unref();
    return { id: timer };
  },
  clearTimeout(handle) {
    clearTimeout(handle.id as ReturnType<typeof setTimeout>);
  },
};

/** The same clock as core's Clock, for the timers protocol shares with the engine (SweepTimer). */
export function timerClock(clock: Clock): TimerClock {
  return {
    now: () => clock.now(),
    setTimer(callback, delayMs) {
      const handle = clock.setTimeout(callback, delayMs);
      return { cancel: () => clock.clearTimeout(handle) };
    },
  };
}
