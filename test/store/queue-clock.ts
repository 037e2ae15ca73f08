import type { Clock } from '../../src/store/queue.js';

/** The queue's clock for store tests: it moves only when told to, at once (no timers to fire). */
export class ManualClock implements Clock {
  constructor(private at = 1_700_000_000_000) {}
  now(): number {
    return this.at;
  }
  advance(ms: number): void {
    this.at += ms;
  }
}
