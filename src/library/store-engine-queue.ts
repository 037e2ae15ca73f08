import { isValkyrieError } from '../core/errors.js';
import type { TaskOutcome } from '../executors/thread/outcome.js';
import type {
  Completion,
  EnqueuedAndClaimed,
  EnqueueResult,
  Lease,
  QueueJobId,
  QueueStore,
  Release,
  UncountedAttempt,
} from '../store/queue.js';
import type { EngineQueue, SettleRecord, StoredOutcomes } from './engine-queue.js';
import type { JobOutcome } from './events.js';
import { lookOutForFinishedElsewhere } from './finished-elsewhere.js';
import type { JobRecord } from './job-record.js';
import type { StoreEngineQueueOptions } from './store-engine-queue-options.js';
import { refusedOutcome, storableOutcome, storedCancellation, storedCompletion } from './stored-job.js';
import { type BatchWritten, outcomeAfterLostLease, StoredJobWatch } from './stored-job-watch.js';
import { type EncodedBatch, type EnqueueBatch, encodeBatch, submissionsOf } from './submissions.js';
import { WorkWaiter } from './work-waiter.js';

/**
 * The engine's queue on a durable QueueStore (SQLite or Postgres). Writes are buffered for one microtask and
 * sent as one batch each — enqueues, completions, releases (retries) — so one synchronous stretch of the
 * engine costs one store commit per kind; on SQLite a claim made in the same turn joins the same transaction.
 *
 * - `add` of a new entry enqueues it; of an entry holding a lease (a retry), releases it (`notBefore`).
 * - `take` claims jobs of the engine's tasks in queue order. A lease on a job this engine enqueued
 *   maps back to its entry; any other (another process's job, or one whose engine crashed) is
 *   adopted. Leases are renewed at a third of their TTL and expired ones swept by the same timer,
 *   which is how a job claimed by a dead process runs again.
 * - `settle` completes the job (the handle resolves once that has committed); a `cancelled`
 *   outcome — the engine closing or destroyed — releases it instead (`not_begun` if it never began).
 * - After a short claim, a WorkWaiter (work-waiter.ts) wakes the engine when work may be ready.
 */
export class StoreEngineQueue implements EngineQueue<JobRecord> {
  readonly #options: StoreEngineQueueOptions;
  readonly #store: QueueStore;
  readonly recordable = storableOutcome;
  /** Own entries waiting: buffered for enqueue, or queued in the store. */
  readonly #waiting = new Set<JobRecord>();
  /** Own entries known to the store, by job id, until settled. */
  readonly #byId = new Map<QueueJobId, JobRecord>();
  /** Entries whose idempotency key matched a job not finished yet (or a producer's), watched until it is. */
  readonly #watched: StoredJobWatch;
  /** Unsettled entries whose cancellation the store recorded: their settle writes nothing (and drops them). */
  readonly #cancelled = new Set<JobRecord>();
  /** Entries whose lease the store refused: their settle reports the store's outcome instead. */
  readonly #leaseLost = new Set<JobRecord>();
  #toEnqueue: JobRecord[] = [];
  /** Where each submission in #toEnqueue ends (endSubmission), ascending; see submissionsOf. */
  #submissionEnds: number[] = [];
  #toRelease: Release[] = [];
  /** The entry retried by each of #toRelease's releases, by position; undefined for a cancelled attempt's. */
  #releasing: (JobRecord | undefined)[] = [];
  #toComplete: Completion[] = [];
  /** Settles once the completions buffered now have been written; one promise per batch, not per job. */
  #batchWritten: BatchWritten | undefined;
  /** The entries of #toComplete's completions, by position. */
  #completing: JobRecord[] = [];
  #flushScheduled = false;
  /**
   * On a store whose writes are applied in order (SQLite), new entries wait for the engine's next take and go
   * with its claim in one write (QueueStore.enqueueAndClaim): the take follows their `add` at once when the
   * engine has room (and follows a pending take). Should no take come, #storeHeldSoon writes them.
   */
  get #fusedClaims(): boolean {
    return this.#options.orderedWrites;
  }
  #takePending = false;
  #heldFlushArmed = false;
  /** The last enqueue batch, which a claim on an unordered store waits for. */
  #enqueued: Promise<void> = Promise.resolve();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #stop = new AbortController();
  readonly #work: WorkWaiter;
  #intakeClosed = false;
  readonly #timer: NodeJS.Timeout;
  #closing: Promise<void> | undefined;

  constructor(options: StoreEngineQueueOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#watched = new StoredJobWatch(
      options.store,
      (promise) => this.#track(promise),
      options.hooks.settled,
    );
    if (options.runsJobs) lookOutForFinishedElsewhere(options, this.#waiting, this.#stop.signal, this.#track);
    this.#work = new WorkWaiter(options.store, this.#stop.signal, () => options.hooks.onReady());
    this.#timer = setInterval(() => this.#maintain(), Math.max(1, Math.floor(options.leaseTtlMs / 3)));
    this.#timer.unref();
    // Leases left by a crashed engine may have expired already; requeue them before the first claim.
    this.#track(this.#store.expireLeases()).then(() => options.hooks.onReady(), ignore);
  }

  get size(): number {
    return this.#waiting.size;
  }

  get writesInOrder(): boolean {
    return this.#options.orderedWrites;
  }

  add(entry: JobRecord, _now?: number, uncounted?: UncountedAttempt): void {
    const lease = entry.lease;
    if (lease === undefined) {
      this.#toEnqueue.push(entry);
      if (this.#fusedClaims) this.#storeHeldSoon();
    } else {
      entry.lease = undefined;
      // The store ranks it from max(now, notBefore), as the in-memory queue does; from now without one.
      const notBefore = entry.notBefore === undefined ? undefined : Math.ceil(entry.notBefore);
      this.#toRelease.push({ lease, notBefore, uncounted });
      this.#releasing.push(entry);
    }
    this.#waiting.add(entry);
    this.#scheduleFlush();
  }

  take(limit: number, into: (JobRecord | undefined)[]): number | Promise<number> {
    if (this.#stop.signal.aborted) return 0;
    // Closing: nothing more is claimed; what waits stays in the store. New jobs are written now.
    if (this.#intakeClosed) {
      this.#flush();
      return 0;
    }
    const tasks = this.#options.tasks();
    if (tasks.length === 0) return 0;
    if (this.#fusedClaims) {
      // New jobs and the claim in one write: the store may write them leased to us at once.
      const fresh = this.#takeEnqueues();
      this.#flush();
      const claimed =
        fresh.batch.length > 0 ? this.#enqueueAndClaim(fresh, limit, tasks) : this.#claim(limit, tasks);
      this.#enqueued = claimed.then(ignore, ignore);
      this.#takePending = true;
      const resume = () => {
        this.#takePending = false;
        if (this.#toEnqueue.length > 0) this.#storeHeldSoon();
      };
      return claimed.then(
        (leases) => {
          resume();
          return this.#taken(leases, limit, into);
        },
        (error: unknown) => {
          resume();
          throw error;
        },
      );
    }
    this.#flush();
    const enqueued = this.#enqueued;
    if (!this.#options.orderedWrites) {
      return enqueued
        .then(() => this.#claim(limit, tasks))
        .then((leases) => this.#taken(leases, limit, into));
    }
    // Claimed in the same commit as the enqueue before it; mapped once that enqueue's ids are known.
    const claimed = this.#claim(limit, tasks);
    return enqueued.then(() => claimed).then((leases) => this.#taken(leases, limit, into));
  }

  settle(entry: JobRecord, outcome: TaskOutcome, uncounted?: UncountedAttempt): SettleRecord<JobRecord> {
    const lease = entry.lease;
    const id = entry.storeId;
    if (id !== undefined && this.#byId.get(id) === entry) this.#byId.delete(id);
    if (this.#cancelled.delete(entry)) {
      entry.lease = undefined;
      this.#waiting.delete(entry);
      return;
    }
    if (this.#leaseLost.delete(entry) && id !== undefined) {
      entry.lease = undefined;
      return Promise.resolve(new Map([[entry, this.#storedOutcome(id, entry.attempt)]]));
    }
    // An entry holding a lease left #waiting when it was taken.
    if (lease === undefined) {
      this.#waiting.delete(entry);
      return;
    }
    entry.lease = undefined;
    if (outcome.kind === 'cancelled') {
      this.#toRelease.push({ lease, uncounted });
      this.#releasing.push(undefined);
      this.#scheduleFlush();
      return;
    }
    this.#toComplete.push(storedCompletion(lease, outcome, entry.attempt));
    this.#completing.push(entry);
    this.#scheduleFlush();
    if (this.#batchWritten === undefined) {
      let resolve: BatchWritten['resolve'] = ignore;
      const promise = new Promise<StoredOutcomes<JobRecord> | undefined>((done) => {
        resolve = done;
      });
      this.#batchWritten = { promise, resolve };
    }
    return this.#batchWritten.promise;
  }

  async cancel(entry: JobRecord, reason: string): Promise<boolean> {
    // Not written yet: written first (a batch on its way cannot be taken back), then cancelled.
    if (entry.storeId === undefined && this.#toEnqueue.includes(entry)) this.#flush();
    if (entry.storeId === undefined) await this.#enqueued;
    const id = entry.storeId;
    if (id === undefined || entry.settled) return false;
    const result = await this.#track(this.#store.cancel(id, storedCancellation(reason, entry.attempt)));
    if (result.kind !== 'cancelled') return false;
    this.#waiting.delete(entry);
    this.#watched.take(id);
    if (!entry.settled) this.#cancelled.add(entry);
    return true;
  }

  /**
   * Cancels a job of the store by its id (`engine.cancelStored`): through its entry when this engine
   * has one (`entry` is then returned, for the engine to end), else in the store alone.
   */
  async cancelStored(id: QueueJobId, reason: string): Promise<{ ended: boolean; entry?: JobRecord }> {
    const entry = this.#byId.get(id) ?? this.#watched.take(id);
    if (entry !== undefined) return { ended: await this.cancel(entry, reason), entry };
    const result = await this.#track(this.#store.cancel(id, storedCancellation(reason, 0)));
    return { ended: result.kind === 'cancelled' };
  }

  /** The store's outcome for a job whose lease this engine lost: outcomeAfterLostLease. */
  #storedOutcome(id: QueueJobId, attempts: number): Promise<JobOutcome> {
    const ttl = this.#options.leaseTtlMs;
    return this.#track(outcomeAfterLostLease(this.#store, id, attempts, ttl, this.#stop.signal));
  }

  endSubmission(): void {
    const end = this.#toEnqueue.length;
    const ends = this.#submissionEnds;
    if (end > 0 && ends[ends.length - 1] !== end) ends.push(end);
  }

  /**
   * Stops claiming; own waiting entries are returned, and stay queued in the store. With entries not
   * written yet, once they are: a refused one is not returned (it settles with the refusal).
   */
  drain(): JobRecord[] | Promise<JobRecord[]> {
    this.#stop.abort();
    if (this.#toEnqueue.length === 0 && [...this.#waiting].every((entry) => entry.storeId !== undefined)) {
      return this.#drainWaiting();
    }
    this.#flush();
    return this.#enqueued.then(() => this.#drainWaiting());
  }

  #drainWaiting(): JobRecord[] {
    const all = [...this.#waiting, ...this.#watched.drain()];
    this.#waiting.clear();
    return all;
  }

  closeIntake(): void {
    this.#intakeClosed = true;
  }

  /** Sends what is buffered, waits for every write, then closes the store. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop.abort();
      clearInterval(this.#timer);
      this.#watched.close();
      this.#flush();
      while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
      await this.#work.idle();
      await this.#options.closeStore();
    })();
    return this.#closing;
  }

  #claim(limit: number, tasks: readonly string[]): Promise<Lease[]> {
    const { worker, leaseTtlMs: ttlMs } = this.#options;
    return this.#track(this.#store.claim({ worker, limit, ttlMs, tasks }));
  }

  #taken(leases: readonly Lease[], limit: number, into: (JobRecord | undefined)[]): number {
    let taken = 0;
    for (const lease of leases) {
      let entry = this.#byId.get(lease.jobId);
      if (entry?.lease !== undefined) {
        // Claimed again while its attempt still runs here under the expired lease (stalled, or
        // stopping): that attempt is stopped, and the new lease adopted as a record of its own.
        const stale = entry;
        queueMicrotask(() => this.#lost(stale, `the store gave job ${lease.jobId} to this engine again`));
        entry = undefined;
      }
      if (entry === undefined) {
        entry = this.#watched.take(lease.jobId) ?? this.#options.adopt(lease);
        if (entry === undefined) continue;
        entry.storeId = lease.jobId;
        this.#byId.set(lease.jobId, entry);
      }
      this.#waiting.delete(entry);
      entry.lease = lease;
      // Attempts are the store's: a job that a crashed process had started counts that attempt.
      entry.attempt = lease.attempt - 1;
      into[taken++] = entry;
    }
    this.#work.claimed(leases.length, limit);
    return taken;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.#flush(this.#fusedClaims));
  }

  /** Writes held entries at the end of the I/O phase, unless a take stored them first or is pending. */
  #storeHeldSoon(): void {
    if (this.#heldFlushArmed) return;
    this.#heldFlushArmed = true;
    setImmediate(() => {
      this.#heldFlushArmed = false;
      // A pending take re-arms this when it resolves; the engine's next take usually comes first.
      if (!this.#takePending) this.#flush();
    });
  }

  #flush(holdEnqueues = false): void {
    this.#flushScheduled = false;
    if (this.#toEnqueue.length > 0 && !holdEnqueues) this.#enqueued = this.#enqueue(this.#takeEnqueues());
    if (this.#toRelease.length > 0) {
      const batch = this.#toRelease;
      const entries = this.#releasing;
      this.#toRelease = [];
      this.#releasing = [];
      // A stale release means the lease was lost: the job was cancelled or went to another engine.
      this.#track(this.#store.release(batch)).then((results) => {
        results.forEach((result, i) => {
          const entry = entries[i];
          if (result.kind === 'stale' && entry !== undefined) this.#retryRefused(entry, result.jobId);
        });
      }, ignore);
    }
    if (this.#toComplete.length > 0) {
      const batch = this.#toComplete;
      const entries = this.#completing;
      const written = this.#batchWritten;
      this.#toComplete = [];
      this.#completing = [];
      this.#batchWritten = undefined;
      // On a store failure the leases expire and the jobs run again; the handles still resolve. A
      // stale completion was refused (the lease was lost): its handle waits for the store's outcome.
      this.#track(this.#store.complete(batch)).then(
        (results) => {
          let refused: Map<JobRecord, Promise<JobOutcome>> | undefined;
          results.forEach((result, i) => {
            const entry = entries[i];
            if (result.kind !== 'stale' || entry === undefined) return;
            refused ??= new Map();
            refused.set(entry, this.#storedOutcome(result.jobId, entry.attempt));
          });
          written?.resolve(refused);
        },
        () => written?.resolve(undefined),
      );
    }
  }

  /** A retry whose release was refused as stale (a lost lease) settles with the store's outcome; see settle. */
  #retryRefused(entry: JobRecord, id: QueueJobId): void {
    if (entry.lease !== undefined || !this.#waiting.delete(entry)) return;
    if (this.#byId.get(id) === entry) this.#byId.delete(id);
    this.#leaseLost.delete(entry);
    this.#storedOutcome(id, entry.attempt).then((outcome) => this.#options.hooks.settled(entry, outcome));
  }

  #takeEnqueues(): EnqueueBatch {
    const taken = { batch: this.#toEnqueue, submissionEnds: this.#submissionEnds };
    this.#toEnqueue = [];
    this.#submissionEnds = [];
    return taken;
  }

  /** `#enqueue` then `#claim`, as one store write when it succeeds; apart when it is refused. */
  async #enqueueAndClaim(fresh: EnqueueBatch, limit: number, tasks: readonly string[]): Promise<Lease[]> {
    const { worker, leaseTtlMs: ttlMs } = this.#options;
    const request = { worker, limit, ttlMs, tasks };
    const encoded = this.#encoded(fresh);
    let written: EnqueuedAndClaimed | undefined;
    try {
      written = await this.#track(this.#store.enqueueAndClaim(encoded.jobs, request));
    } catch {
      written = undefined;
    }
    if (written === undefined) {
      // Each submission meets its own fate (a capacity refusal, the store failing) the usual way.
      await this.#enqueueEncoded(encoded);
      return this.#claim(limit, tasks);
    }
    this.#placeAll(encoded.kept.batch, written.enqueued);
    return written.leases;
  }

  #enqueue(batch: EnqueueBatch): Promise<void> {
    return this.#enqueueEncoded(this.#encoded(batch));
  }

  /** Stores encoded jobs; on a refusal, tries again per submission with the jobs as they were encoded. */
  async #enqueueEncoded({ kept, jobs }: EncodedBatch): Promise<void> {
    if (jobs.length === 0) return;
    try {
      this.#placeAll(kept.batch, await this.#track(this.#store.enqueue(jobs)));
    } catch (error) {
      const submissions = submissionsOf(kept.batch, kept.submissionEnds);
      if (submissions.length > 1 && isValkyrieError(error) && error.code === 'VK_QUEUE_FULL') {
        // The batch held several callers' submissions: each is stored or refused on its own, in
        // order, so the earlier ones take the room there is.
        const jobsOf = submissionsOf(jobs, kept.submissionEnds);
        for (const [i, submission] of submissions.entries()) {
          const own = { batch: submission, submissionEnds: [submission.length] };
          await this.#enqueueEncoded({ kept: own, jobs: jobsOf[i] ?? [] });
        }
        return;
      }
      for (const entry of kept.batch) this.#refused(entry, error);
    }
  }

  /** The batch's store jobs; an entry JSON cannot hold is refused a microtask later (see encodeBatch). */
  #encoded(fresh: EnqueueBatch): EncodedBatch {
    return encodeBatch(fresh, this.#options.encode, (entry, error) =>
      queueMicrotask(() => this.#refused(entry, error)),
    );
  }

  /** Maps a batch's store results back to its entries. */
  #placeAll(batch: readonly JobRecord[], results: readonly EnqueueResult[]): void {
    results.forEach((result, i) => {
      const entry = batch[i];
      if (entry !== undefined) this.#placed(entry, result);
    });
    if (results.some((result) => result.kind === 'existing')) this.#watched.lookUp();
  }

  /** One enqueue result: the entry is stored, follows a job (its key's, or a producer's own), or conflicts. */
  #placed(entry: JobRecord, { kind, job }: EnqueueResult): void {
    const conflict = kind === 'existing' ? this.#options.conflict(entry, job) : undefined;
    if (conflict !== undefined) {
      this.#refused(entry, conflict);
    } else if (kind === 'created' && this.#options.runsJobs) {
      entry.storeId = job.id;
      this.#byId.set(job.id, entry);
    } else {
      // The idempotency key matched a job in the store, or a producer stored it: this entry follows it.
      entry.storeId = job.id;
      this.#waiting.delete(entry);
      this.#watched.add(job.id, entry);
    }
  }

  #refused(entry: JobRecord, error: unknown): void {
    this.#waiting.delete(entry);
    this.#options.hooks.settled(entry, refusedOutcome(error));
  }

  /** Renews held leases and requeues expired ones. */
  #maintain(): void {
    if (this.#stop.signal.aborted) return;
    const ttl = this.#options.leaseTtlMs;
    for (const entry of this.#byId.values()) {
      const lease = entry.lease;
      if (lease === undefined) continue;
      // Stale: the job was cancelled, or the lease expired before this renewal and the job moved on.
      // The attempt is stopped, and the handle reports what the store holds.
      this.#track(this.#store.renew(lease, ttl)).catch((error: unknown) => {
        if (!isValkyrieError(error) || error.code !== 'VK_STALE_LEASE' || entry.lease !== lease) return;
        this.#lost(entry, `the store took job ${lease.jobId} from this engine: ${error.message}`);
      });
    }
    this.#track(this.#store.expireLeases()).then((expired) => {
      if (expired.length > 0) this.#options.hooks.onReady();
    }, ignore);
  }

  /** The store took a running entry's job: its attempt stops, and its settle reports the store's outcome. */
  #lost(entry: JobRecord, reason: string): void {
    if (entry.settled) return;
    this.#leaseLost.add(entry);
    this.#options.hooks.leaseLost(entry, reason);
  }

  readonly #track = <T>(promise: Promise<T>): Promise<T> => {
    this.#pending.add(promise);
    const forget = () => this.#pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  };
}

function ignore(): void {}
