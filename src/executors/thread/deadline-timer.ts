import { performance } from 'node:perf_hooks';

/** Time as the pool reads it; tests pass a fake one. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * One timer for every task deadline: armed at the earliest deadline it was asked for, fired once,
 * after which the owner scans its (few) running tasks and arms the next. Cheaper than a timer per
 * task, and never holds the process open (running workers do that).
 */
export class DeadlineTimer {
  private handle: unknown;
  private armedAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (now: number) => void,
  ) {}

  /** Makes sure the timer fires no later than `at`; a later `at` than the armed one is a no-op. */
  arm(at: number): void {
    if (at >= this.armedAt) return;
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.armedAt = at;
    this.handle = this.clock.setTimeout(this.fire, Math.max(0, at - this.clock.now()));
  }

  cancel(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
  }

  private readonly fire = (): void => {
    this.handle = undefined;
    this.armedAt = Number.POSITIVE_INFINITY;
    this.onDue(this.clock.now());
  };
}
