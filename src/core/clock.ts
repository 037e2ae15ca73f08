/**
 * Time as the engine and the runner agent see it: the current time and one-shot timers. Injected so
 * that tests move time by hand instead of waiting for a 60 s lease to run out or a delayed job's time.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once, `delayMs` from now, unless cancelled first. */
  setTimer(callback: () => void, delayMs: number, options?: TimerOptions): TimerHandle;
}

export interface TimerOptions {
  /**
   * Keep the process alive until the timer fires. Off by default: most timers guard work (leases,
   * offers) that something else — a runner connection, a child process — keeps the process alive for;
   * a delayed job's wake-up is the exception, as nothing else is waiting for it.
   */
  readonly keepAlive?: boolean;
}

export interface TimerHandle {
  /** Idempotent; a no-op once the timer has fired. */
  cancel(): void;
}

/** setTimeout fires at once for delays past 2^31-1 ms, so a far timer is re-armed in steps. */
const maxStepMs = 2_147_483_647;

/** The wall clock. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer(callback: () => void, delayMs: number, options: TimerOptions = {}): TimerHandle {
    const at = Date.now() + Math.max(0, delayMs);
    let handle: ReturnType<typeof setTimeout> | undefined;
    const arm = (delay: number) => {
      handle = setTimeout(fire, Math.min(delay, maxStepMs));
      if (options.keepAlive !== true) handle.unref();
    };
    // Node may fire a timer a millisecond before Date.now() reaches its time: check, and re-arm.
    const fire = () => {
      const remaining = at - Date.now();
      if (remaining > 0) return arm(remaining);
      handle = undefined;
      callback();
    };
    arm(Math.max(0, delayMs));
    return {
      cancel: () => {
        if (handle !== undefined) clearTimeout(handle);
        handle = undefined;
      },
    };
  },
});
