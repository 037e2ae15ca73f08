import { isValkyrieError } from '../core/errors.js';
import type { Completion, Lease, QueueStore } from '../store/queue.js';

/** Runs one job; resolving means success (its value is stored as the result), throwing means failure. */
export type QueueJobHandler = (lease: Lease, signal: AbortSignal) => Promise<unknown>;

export interface QueueWorkerOptions {
  readonly store: QueueStore;
  readonly handler: QueueJobHandler;
  /** The name leases are granted to. */
  readonly worker: string;
  /** Handlers running at once. Default 50. */
  readonly concurrency?: number;
  /** Default 30 s; leases are renewed, and expired ones swept, every third of it. */
  readonly leaseTtlMs?: number;
  /** A store failure (the database went away, say); the worker retries after `retryDelayMs`. */
  readonly onError?: (error: unknown) => void;
  readonly retryDelayMs?: number;
}

/**
 * Drains a QueueStore: claims ready jobs in batches of up to the free slots, runs each through the
 * handler with at most `concurrency` running, and settles them in batches — every completion that
 * arrives while the previous batch commits goes into the next one. Leases still held are renewed at
 * a third of their TTL; a lease found stale aborts its handler's signal and its result is dropped
 * (the store has recorded the refusal). With nothing ready it sleeps in `waitForWork`.
 *
 * Lifecycle: `start()` once; `close()` stops claiming, lets running handlers finish and commits their
 * completions, and is idempotent (also through `Symbol.asyncDispose`).
 */
export class QueueWorker implements AsyncDisposable {
  readonly #store: QueueStore;
  readonly #handler: QueueJobHandler;
  readonly #worker: string;
  readonly #concurrency: number;
  readonly #ttlMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #retryDelayMs: number;
  readonly #stop = new AbortController();
  /** Leases from claim until their completion has committed, with their handler's abort. */
  readonly #held = new Map<string, { lease: Lease; abort: AbortController }>();
  #running = 0;
  #slotFreed: (() => void) | undefined;
  #completions: Completion[] = [];
  #flushing: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: QueueWorkerOptions) {
    this.#store = options.store;
    this.#handler = options.handler;
    this.#worker = options.worker;
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 50));
    this.#ttlMs = options.leaseTtlMs ?? 30_000;
    this.#onError = options.onError ?? (() => {});
    this.#retryDelayMs = options.retryDelayMs ?? 1000;
  }

  start(): void {
    if (this.#loop !== undefined) return;
    this.#loop = this.#claimLoop();
    this.#timer = setInterval(() => void this.#renewAndSweep(), Math.max(1, Math.floor(this.#ttlMs / 3)));
    this.#timer.unref();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop.abort();
      this.#slotFreed?.();
      await this.#loop;
      while (this.#running > 0 || this.#completions.length > 0 || this.#flushing !== undefined) {
        await (this.#flushing ?? new Promise<void>((resolve) => setImmediate(resolve)));
      }
      clearInterval(this.#timer);
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #claimLoop(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      if (this.#running >= this.#concurrency) {
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
        });
        this.#slotFreed = undefined;
        continue;
      }
      try {
        const leases = await this.#store.claim({
          worker: this.#worker,
          limit: this.#concurrency - this.#running,
          ttlMs: this.#ttlMs,
        });
        if (leases.length === 0) await this.#store.waitForWork(signal);
        for (const lease of leases) this.#run(lease);
      } catch (error) {
        this.#onError(error);
        await sleep(this.#retryDelayMs, signal);
      }
    }
  }

  #run(lease: Lease): void {
    const abort = new AbortController();
    this.#held.set(lease.jobId, { lease, abort });
    this.#running++;
    const settle = (outcome: Completion['outcome']) => {
      this.#running--;
      this.#slotFreed?.();
      if (abort.signal.aborted) {
        this.#held.delete(lease.jobId);
        return;
      }
      this.#completions.push({ lease, outcome });
      this.#flushing ??= this.#flush();
    };
    this.#handler(lease, abort.signal).then(
      (result) => settle(result === undefined ? { kind: 'succeeded' } : { kind: 'succeeded', result }),
      (error: unknown) =>
        settle({ kind: 'failed', error: error instanceof Error ? error.message : String(error) }),
    );
  }

  async #flush(): Promise<void> {
    // One turn's completions form one batch; later ones wait for the next.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.#completions.length > 0) {
      const batch = this.#completions;
      this.#completions = [];
      try {
        await this.#store.complete(batch);
      } catch (error) {
        // The leases stay held; they expire and follow their policy, as if this worker had died.
        this.#onError(error);
      }
      for (const { lease } of batch) this.#held.delete(lease.jobId);
    }
    this.#flushing = undefined;
  }

  async #renewAndSweep(): Promise<void> {
    const renewals = [...this.#held.values()].map(async ({ lease, abort }) => {
      try {
        await this.#store.renew(lease, this.#ttlMs);
      } catch (error) {
        if (isValkyrieError(error) && error.code === 'VK_STALE_LEASE') abort.abort(error);
        else this.#onError(error);
      }
    });
    await Promise.all([...renewals, this.#store.expireLeases().catch(this.#onError)]);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
