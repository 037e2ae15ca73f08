/**
 * Time as the engine sees it, injectable so that time logic (aging, delayed jobs) is tested with a
 * clock the test moves. `setTimer` fires `callback` once, at or after `at` (ms since the epoch).
 */
export interface Clock {
  now(): number;
  setTimer(at: number, callback: () => void): TimerHandle;
}

export interface TimerHandle {
  /** Idempotent; a no-op once the timer has fired. */
  cancel(): void;
}

/** setTimeout fires at once for delays past 2^31-1 ms, so a far timer is re-armed in steps. */
const maxStepMs = 2_147_483_647;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(at, callback) {
    let handle: ReturnType<typeof setTimeout> | undefined;
    // Node may fire a timer a millisecond before Date.now() reaches its time: check, and re-arm.
    const fire = () => {
      const delay = at - Date.now();
      if (delay > 0) {
        handle = setTimeout(fire, Math.min(delay, maxStepMs));
        return;
      }
      handle = undefined;
      callback();
    };
    handle = setTimeout(fire, Math.min(Math.max(0, at - Date.now()), maxStepMs));
    return {
      cancel: () => {
        if (handle !== undefined) clearTimeout(handle);
        handle = undefined;
      },
    };
  },
};
