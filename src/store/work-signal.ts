import type { Clock } from './queue.js';

/** setTimeout's largest delay; a longer one fires at once. */
const maxTimerMs = 2 ** 31 - 1;

/**
 * The wake-up half of `QueueStore.waitForWork`, shared by the stores: `wake()` releases every current
 * waiter. A waiter registers before it looks at the queue (`nextReadyAt`), so a job enqueued between
 * a worker's empty claim and its wait is never missed: either the look sees it or the wake comes after.
 */
export class WorkSignal {
  readonly #waiters = new Set<() => void>();

  wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const release of waiters) release();
  }

  /**
   * Resolves on the next wake, when the earliest waiting job becomes ready (`nextReadyAt`, epoch ms,
   * undefined when nothing waits), after `maxWaitMs` when given, or at once when `signal` aborts.
   */
  wait(
    signal: AbortSignal,
    clock: Clock,
    nextReadyAt: () => Promise<number | undefined>,
    maxWaitMs?: number,
  ): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = (error?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#waiters.delete(release);
        signal.removeEventListener('abort', release);
        if (error === undefined) resolve();
        else reject(error);
      };
      const release = () => finish();
      this.#waiters.add(release);
      signal.addEventListener('abort', release, { once: true });
      nextReadyAt().then((readyAt) => {
        if (settled) return;
        let delay = maxWaitMs ?? Number.POSITIVE_INFINITY;
        if (readyAt !== undefined) delay = Math.min(delay, Math.max(0, readyAt - clock.now()));
        if (delay <= 0) finish();
        else if (Number.isFinite(delay)) timer = setTimeout(release, Math.min(delay, maxTimerMs));
      }, finish);
    });
  }
}
