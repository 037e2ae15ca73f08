import type { Clock, TimerHandle, TimerOptions } from '../../src/core/clock.js';

interface PendingTimer {
  readonly due: number;
  readonly seq: number;
  readonly callback: () => void;
  readonly keepAlive: boolean;
}

/** Lets in-process messages and store writes started by a callback land before the next one fires. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A clock that only moves when a test says so; timers fire in due order, each followed by `settle()`. */
export class ManualClock implements Clock {
  private current: number;
  private timers: PendingTimer[] = [];
  private seq = 0;

  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(callback: () => void, delayMs: number, options: TimerOptions = {}): TimerHandle {
    const due = this.current + Math.max(0, delayMs);
    const timer = { due, seq: this.seq++, callback, keepAlive: options.keepAlive === true };
    this.timers.push(timer);
    return { cancel: () => this.remove(timer) };
  }

  /** How many timers are waiting. */
  get pending(): number {
    return this.timers.length;
  }

  /** How many of them would keep a process alive on the system clock (`keepAlive`). */
  get keptAlive(): number {
    return this.timers.filter((timer) => timer.keepAlive).length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await settle();
    for (;;) {
      const next = this.earliest();
      if (!next || next.due > target) break;
      this.remove(next);
      this.current = next.due;
      next.callback();
      await settle();
    }
    this.current = target;
  }

  private earliest(): PendingTimer | undefined {
    let best: PendingTimer | undefined;
    for (const timer of this.timers) {
      if (!best || timer.due < best.due || (timer.due === best.due && timer.seq < best.seq)) best = timer;
    }
    return best;
  }

  private remove(timer: PendingTimer): void {
    this.timers = this.timers.filter((other) => other !== timer);
  }
}
