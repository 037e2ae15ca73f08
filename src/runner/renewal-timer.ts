import type { Clock, TimerHandle } from '../core/clock.js';

/** Calls `renew` every `intervalMs` until it returns false or the returned handle is cancelled. */
export function renewEvery(clock: Clock, intervalMs: number, renew: () => boolean): TimerHandle {
  let timer: TimerHandle | undefined;
  let stopped = false;
  const arm = (): void => {
    timer = clock.setTimer(() => {
      if (stopped || !renew()) return;
      arm();
    }, intervalMs);
  };
  arm();
  return {
    cancel: () => {
      stopped = true;
      timer?.cancel();
    },
  };
}
