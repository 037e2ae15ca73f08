import type { Clock, TimerHandle } from '../core/clock.js';

/** Wakes dispatch when the earliest delayed job becomes ready; at most one is armed. */
export class WakeUpTimer {
  private armed: { readonly at: number; readonly timer: TimerHandle } | undefined;
  private closed = false;

  constructor(
    private readonly options: { readonly clock: Clock },
    private readonly wake: () => void,
  ) {}

  /**
   * One timer, for the earliest delayed job: no polling, and none armed while nothing is delayed.
   * `at`: when that job is ready; undefined when none is delayed.
   */
  armFor(at: number | undefined): void {
    if (this.armed?.at === at) return;
    this.armed?.timer.cancel();
    this.armed = undefined;
    if (at === undefined || this.closed) return;
    const { clock } = this.options;
    // Nothing else keeps the process alive while the only work left waits for its time.
    const timer = clock.setTimer(
      () => {
        if (this.armed?.timer === timer) this.armed = undefined;
        this.wake();
      },
      at - clock.now(),
      { keepAlive: true },
    );
    this.armed = { at, timer };
  }

  /** Cancels the timer for good: armFor does nothing after this. */
  close(): void {
    this.closed = true;
    this.armFor(undefined);
  }
}
