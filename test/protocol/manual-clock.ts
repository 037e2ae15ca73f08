import type { Clock, TimerHandle } from '../../src/protocol/clock.js';

interface Timer {
  readonly at: number;
  readonly order: number;
  readonly callback: () => void;
}

/** A clock that moves only when the test says so; due timers run in time order. */
export class ManualClock implements Clock {
  private time = 0;
  private order = 0;
  private readonly timers = new Set<Timer>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.time + ms, order: this.order++, callback };
    this.timers.add(timer);
    return { id: timer };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle.id as Timer);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = [...this.timers]
        .filter((timer) => timer.at <= until)
        .sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (due === undefined) break;
      this.timers.delete(due);
      this.time = due.at;
      due.callback();
    }
    this.time = until;
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
    const due = [...this.timers]
      .filter((timer) => timer.at <= this.time)
      .sort((a, b) => a.at - b.at || a.order - b.order);
    for (const timer of due) {
      if (!this.timers.delete(timer)) continue;
      timer.callback();
    }
  }
}
