/**
 * Time as the engine and the runner agent see it: the current time and one-shot timers. Injected so
 * that tests move time by hand instead of waiting for a 60 s lease to run out.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once, `delayMs` from now, unless cancelled first. */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
}

export interface TimerHandle {
  /** Idempotent; a no-op once the timer has fired. */
  cancel(): void;
}

/**
 * The wall clock. Its timers do not keep the process alive: they guard work (leases, offers) that
 * something else — a runner connection, a child process — already keeps the process alive for.
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
});
