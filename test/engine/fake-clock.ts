import type { Clock, TimerHandle } from '../../src/core/clock.js';

/** A clock the test moves: timers fire, in time order, only inside `advance`. */
export class FakeClock implements Clock {
  private timers: { at: number; callback: () => void; cancelled: boolean }[] = [];

  constructor(private time = 1_700_000_000_000) {}

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer = { at: this.time + Math.max(0, delayMs), callback, cancelled: false };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Timers that are armed and not cancelled, earliest first. */
  pending(): number[] {
    return this.timers
      .filter((timer) => !timer.cancelled)
      .map((timer) => timer.at)
      .sort((a, b) => a - b);
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = this.timers
        .filter((timer) => !timer.cancelled && timer.at <= until)
        .sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.time = Math.max(this.time, due.at);
      due.cancelled = true;
      due.callback();
    }
    this.time = until;
    this.timers = this.timers.filter((timer) => !timer.cancelled);
  }

  /** The process did not run for `ms`: time moves on, and no timer fires (until `turn`). */
  pause(ms: number): void {
    this.time += ms;
  }

  /**
   * One run of the event loop's timers phase, at the time it is: the timers due by then fire, late,
   * in time order; those they arm fire in a later turn, whatever their delay.
   */
  turn(): void {
    const due = this.timers
      .filter((timer) => !timer.cancelled && timer.at <= this.time)
      .sort((a, b) => a.at - b.at);
    for (const timer of due) {
      if (timer.cancelled) continue;
      timer.cancelled = true;
      timer.callback();
    }
    this.timers = this.timers.filter((timer) => !timer.cancelled);
  }
}
