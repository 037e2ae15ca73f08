import { sleep } from '../core/sleep.js';
import type { QueueStore } from '../store/queue.js';
import { takeRetryMs } from './take-retry.js';

/** Consecutive empty claims back off up to this long before waiting for work again. */
const defaultMaxIdleBackoffMs = 1000;

/**
 * Wakes an engine for jobs enqueued elsewhere, delayed jobs falling due and requeued leases, once a
 * claim ran short: one `waitForWork` at a time, until `signal` aborts. Jobs of tasks the engine does
 * not run make the store report work that no claim of its takes, so empty claims in a row back off
 * before waiting again (StoreEngineQueue). Only a wait that ended quickly (under half the longest
 * backoff) counts towards that: an idle engine woken by the store's poll, or by a commit of
 * another process, waited for it, and claims at once — else a job enqueued elsewhere after a
 * minute of idling waited up to the longest backoff and a poll more before its engine looked.
 */
export class WorkWaiter {
  #waiter: Promise<void> | undefined;
  #idleBackoffMs = 0;

  constructor(
    private readonly store: QueueStore,
    private readonly signal: AbortSignal,
    private readonly onReady: () => void,
    private readonly failedWaitPauseMs = takeRetryMs,
    private readonly maxIdleBackoffMs = defaultMaxIdleBackoffMs,
  ) {}

  /** A claim asked for `limit` jobs and got `count`. */
  claimed(count: number, limit: number): void {
    if (count < limit) this.#arm(count === 0);
    else this.#idleBackoffMs = 0;
  }

  /** Resolves once no wait is under way. */
  async idle(): Promise<void> {
    await this.#waiter;
  }

  #arm(empty: boolean): void {
    if (this.#waiter !== undefined || this.signal.aborted) return;
    const backoff = empty ? this.#idleBackoffMs : 0;
    this.#idleBackoffMs = empty ? Math.min(this.maxIdleBackoffMs, Math.max(1, backoff * 2)) : 0;
    const signal = this.signal;
    this.#waiter = (async () => {
      if (backoff > 0) await sleep(backoff, signal);
      const waitedFrom = performance.now();
      // A failed wait (the store away for a moment) is followed by a claim after a pause, which
      // either fails in its turn (and is tried again, take-retry.ts) or re-arms this wait.
      await this.store.waitForWork(signal).catch(() => sleep(this.failedWaitPauseMs, signal));
      if (performance.now() - waitedFrom >= this.maxIdleBackoffMs / 2) this.#idleBackoffMs = 0;
    })().then(
      () => {
        this.#waiter = undefined;
        if (!signal.aborted) this.onReady();
      },
      () => {
        this.#waiter = undefined;
      },
    );
  }
}
