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

  /** Whether any waiter would be released by a wake. */
  get waiting(): boolean {
    return this.#waiters.size > 0;
  }

  wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const release of waiters) release();
  }

  /**
   * Wakes the waiters, if any, when a queued job is ready now (`nextReadyAt`): for a hint that some
   * other process committed something, which is mostly not an enqueue (its log lines, leases,
   * completions), while a wake costs each idle worker a claim, a write transaction that would contend
   * with that process for the store. A job it delayed is found by the waiters' own timers and poll.
   */
  wakeIfReady(nextReadyAt: () => Promise<number | undefined>, clock: Clock): void {
    if (!this.waiting) return;
    nextReadyAt().then(
      (readyAt) => {
        if (readyAt !== undefined && readyAt <= clock.now()) this.wake();
      },
      // Unread (the store busy): wake, as the poll would have.
      () => this.wake(),
    );
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
    const armed = this.arm(clock, nextReadyAt, maxWaitMs);
    signal.addEventListener('abort', armed.end, { once: true });
    const removeListener = () => signal.removeEventListener('abort', armed.end);
    armed.woken.then(removeListener, removeListener);
    return armed.woken;
  }

  /**
   * `wait` without a signal: `end()` releases it (idempotent). For a waiter that stops waiting on the
   * way to starting a job: aborting an AbortSignal dispatches an event, which cost ~70 µs there.
   */
  arm(
    clock: Clock,
    nextReadyAt: () => Promise<number | undefined>,
    maxWaitMs?: number,
  ): { readonly woken: Promise<void>; readonly end: () => void } {
    let end = () => {};
    const woken = new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = (error?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#waiters.delete(release);
        if (error === undefined) resolve();
        else reject(error);
      };
      const release = () => finish();
      end = release;
      this.#waiters.add(release);
      nextReadyAt().then((readyAt) => {
        if (settled) return;
        let delay = maxWaitMs ?? Number.POSITIVE_INFINITY;
        if (readyAt !== undefined) delay = Math.min(delay, Math.max(0, readyAt - clock.now()));
        if (delay <= 0) finish();
        else if (Number.isFinite(delay)) timer = setTimeout(release, Math.min(delay, maxTimerMs));
      }, finish);
    });
    return { woken, end };
  }
}
