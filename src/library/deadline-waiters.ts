import type { Clock } from '../core/clock.js';

/**
 * Callers of a `when…()` that waits for a condition of the engine's (every job settled, no attempt
 * running): each resolves when the owner calls `release` (the condition holds) or after its own
 * deadline, whichever comes first.
 */
export class DeadlineWaiters {
  #release: (() => void) | undefined;

  constructor(private readonly clock: Pick<Clock, 'setTimer'>) {}

  get waiting(): boolean {
    return this.#release !== undefined;
  }

  wait(deadlineMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = Number.isFinite(deadlineMs) ? this.clock.setTimer(finish, deadlineMs) : undefined;
      const previous = this.#release;
      function finish() {
        timer?.cancel();
        previous?.();
        resolve();
      }
      this.#release = finish;
    });
  }

  /** Resolves every waiter. */
  release(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }
}
