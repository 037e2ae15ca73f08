import { messageOf } from '../core/error-message.js';
import { isValkyrieError } from '../core/errors.js';
import { sleep } from '../core/sleep.js';
import type { Completion, Lease, QueueStore } from '../store/queue.js';

/** The common outcome, shared: completions only read it. */
const succeededWithoutResult: Completion['outcome'] = Object.freeze({ kind: 'succeeded' });

/** What a handler gets: the lease, and a signal that aborts when the lease is found stale. */
export interface QueueJobContext {
  readonly lease: Lease;
  readonly signal: AbortSignal;
}

/** Runs one job; resolving means success (its value is stored as the result), throwing means failure. */
export type QueueJobHandler = (job: QueueJobContext) => Promise<unknown>;

/**
 * A lease this worker holds. Its AbortController is made only when the handler reads `signal`: at
 * tens of thousands of jobs a second, one per job was a measurable share of the worker's time.
 */
class HeldJob implements QueueJobContext {
  #controller: AbortController | undefined;
  #lost: { reason: unknown } | undefined;
  /** The handler has finished and its completion waits for (or is in) a commit: renewing it is moot. */
  completing = false;
  /** Links in HeldJobs; undefined while not held. */
  previous: HeldJob | undefined;
  next: HeldJob | undefined;
  constructor(readonly lease: Lease) {}

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#lost !== undefined) this.#controller.abort(this.#lost.reason);
    }
    return this.#controller.signal;
  }

  get lost(): boolean {
    return this.#lost !== undefined;
  }

  markLost(reason: unknown): void {
    this.#lost ??= { reason };
    this.#controller?.abort(reason);
  }
}

/**
 * The jobs held from claim until their completion has committed, as a list linked through the jobs
 * themselves: adding and removing a job allocates nothing and hashes no id. (A Map by job id cost
 * ~5% of a busy worker's CPU in Map.prototype.delete alone.) Only renewals walk it.
 */
class HeldJobs {
  #first: HeldJob | undefined;
  #last: HeldJob | undefined;

  add(job: HeldJob): void {
    job.previous = this.#last;
    job.next = undefined;
    if (this.#last === undefined) this.#first = job;
    else this.#last.next = job;
    this.#last = job;
  }

  /** A no-op for a job not in the list. */
  remove(job: HeldJob): void {
    if (job.previous === undefined && this.#first !== job) return;
    if (job.previous === undefined) this.#first = job.next;
    else job.previous.next = job.next;
    if (job.next === undefined) this.#last = job.previous;
    else job.next.previous = job.previous;
    job.previous = undefined;
    job.next = undefined;
  }

  /** A copy: the list may change while the caller awaits. */
  toArray(): HeldJob[] {
    const jobs: HeldJob[] = [];
    for (let job = this.#first; job !== undefined; job = job.next) jobs.push(job);
    return jobs;
  }
}

export interface QueueWorkerOptions {
  readonly store: QueueStore;
  readonly handler: QueueJobHandler;
  /** The name leases are granted to. */
  readonly worker: string;
  /** Handlers running at once. Default 50. */
  readonly concurrency?: number;
  /**
   * Leases held beyond the running ones, so that a freed slot starts its next job without a round trip
   * and claims come in larger batches. Default: `concurrency`. The price: those jobs are leased to
   * this worker while they wait, so other workers cannot take them, and a more urgent job enqueued
   * meanwhile starts after them.
   */
  readonly prefetch?: number;
  /** Default 30 s; leases are renewed, and expired ones swept, every third of it. */
  readonly leaseTtlMs?: number;
  /** A store failure (the database went away, say); the worker retries after `retryDelayMs`. */
  readonly onError?: (error: unknown) => void;
  readonly retryDelayMs?: number;
}

/**
 * Drains a QueueStore: claims ready jobs in batches (enough to fill the free slots and the prefetch
 * buffer), runs each through the handler with at most `concurrency` running, and settles them in batches — every completion that
 * arrives while the previous batch commits goes into the next one. Leases still held are renewed at
 * a third of their TTL; a lease found stale aborts its handler's signal and its result is dropped
 * (the store has recorded the refusal). With nothing ready it sleeps in `claimOrWait`, which may hand it jobs as they are enqueued.
 *
 * Lifecycle: `start()` once; `close()` stops claiming, lets running handlers finish and commits their
 * completions, and is idempotent (also through `Symbol.asyncDispose`).
 */
export class QueueWorker implements AsyncDisposable {
  readonly #store: QueueStore;
  readonly #handler: QueueJobHandler;
  readonly #worker: string;
  readonly #concurrency: number;
  readonly #prefetch: number;
  /** Claimed, not yet started, in queue order. */
  #waiting: HeldJob[] = [];
  readonly #ttlMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #retryDelayMs: number;
  readonly #stop = new AbortController();
  /** Leases from claim until their completion has committed. */
  readonly #held = new HeldJobs();
  #running = 0;
  #slotFreed: (() => void) | undefined;
  #completions: Completion[] = [];
  /** The jobs of #completions, in the same order. */
  #completing: HeldJob[] = [];
  #flushing: Promise<void> | undefined;
  /** The last claim came back to idle slots: claims, not handlers, hold the worker back (#worthClaiming). */
  #claimsBehind = false;
  #loop: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: QueueWorkerOptions) {
    this.#store = options.store;
    this.#handler = options.handler;
    this.#worker = options.worker;
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? 50));
    this.#prefetch = Math.max(0, Math.floor(options.prefetch ?? this.#concurrency));
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
      while (
        this.#running > 0 ||
        this.#waiting.length > 0 ||
        this.#completions.length > 0 ||
        this.#flushing !== undefined
      ) {
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
    const capacity = this.#concurrency + this.#prefetch;
    while (!signal.aborted) {
      const room = capacity - this.#running - this.#waiting.length;
      if (!this.#worthClaiming(room, capacity)) {
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
        });
        this.#slotFreed = undefined;
        continue;
      }
      try {
        const request = { worker: this.#worker, limit: room, ttlMs: this.#ttlMs };
        const leases = await this.#store.claimOrWait(request, signal);
        this.#claimsBehind = this.#running < this.#concurrency;
        for (const lease of leases) {
          const job = new HeldJob(lease);
          this.#held.add(job);
          this.#waiting.push(job);
        }
        this.#startWaiting();
      } catch (error) {
        this.#onError(error);
        await sleep(this.#retryDelayMs, signal);
      }
    }
  }

  /**
   * Small claims cost a commit each. With jobs still waiting to start, the worker claims once half its
   * capacity is free, so that what is left covers the claim's round trip. When a claim has come back to
   * idle slots, that cover was not enough — the jobs are shorter than a claim takes, and they drain any
   * buffer meanwhile — and what keeps up with them is fewer, bigger claims: until a claim comes back
   * with every slot busy, the worker claims only when less than a round of slots (`concurrency`) is
   * left to start. bench/queue's Postgres case (no-op jobs, 50 + 450 prefetch): at half capacity alone
   * ~270 jobs a claim, each waited for with nothing to run; 73 → 48 claims a 20,000-job trial.
   */
  #worthClaiming(room: number, capacity: number): boolean {
    if (room <= 0) return false;
    const waiting = this.#waiting.length;
    if (waiting === 0) return true;
    return room >= capacity / 2 && (!this.#claimsBehind || waiting < this.#concurrency);
  }

  #startWaiting(): void {
    while (this.#running < this.#concurrency) {
      const job = this.#waiting.shift();
      if (job === undefined) return;
      this.#run(job);
    }
  }

  #run(job: HeldJob): void {
    const lease = job.lease;
    this.#running++;
    const settle = (outcome: Completion['outcome']) => {
      this.#running--;
      this.#startWaiting();
      this.#slotFreed?.();
      if (job.lost) {
        this.#held.remove(job);
        return;
      }
      job.completing = true;
      this.#completions.push({ lease, outcome });
      this.#completing.push(job);
      this.#flushing ??= this.#flush();
    };
    this.#handler(job).then(
      (result) => settle(result === undefined ? succeededWithoutResult : { kind: 'succeeded', result }),
      (error: unknown) => settle({ kind: 'failed', error: messageOf(error) }),
    );
  }

  async #flush(): Promise<void> {
    // One turn's completions form one batch; later ones wait for the next.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.#completions.length > 0) {
      const batch = this.#completions;
      const jobs = this.#completing;
      this.#completions = [];
      this.#completing = [];
      try {
        await this.#store.complete(batch);
      } catch (error) {
        // The leases stay held; they expire and follow their policy, as if this worker had died.
        this.#onError(error);
      }
      for (const job of jobs) this.#held.remove(job);
    }
    this.#flushing = undefined;
  }

  async #renewAndSweep(): Promise<void> {
    // A renewal that reached the store after its job's completion committed would be refused and
    // recorded as a stale write, though nothing was lost; completing jobs are not renewed.
    const held = this.#held.toArray().filter((job) => !job.completing);
    const renewals = held.map(async (job) => {
      try {
        await this.#store.renew(job.lease, this.#ttlMs);
      } catch (error) {
        if (isValkyrieError(error) && error.code === 'VK_STALE_LEASE') job.markLost(error);
        else this.#onError(error);
      }
    });
    await Promise.all([...renewals, this.#store.expireLeases().catch(this.#onError)]);
  }
}
