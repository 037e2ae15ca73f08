import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { Completion, Lease, QueueJobId, QueueStore, Release, UncountedAttempt } from '../store/queue.js';
import type { EngineQueue, SettleRecord } from './engine-queue.js';
import { EnqueueWriter } from './enqueue-writer.js';
import { lookOutForFinishedElsewhere } from './finished-elsewhere.js';
import type { JobRecord } from './job-record.js';
import { LeaseKeeper } from './lease-keeper.js';
import { batchWritten, SettleWriter } from './settle-writer.js';
import type { StoreEngineQueueOptions } from './store-engine-queue-options.js';
import { storedCancellation, storedCompletion } from './stored-job.js';
import { type BatchWritten, StoredJobWatch } from './stored-job-watch.js';
import type { EnqueueBatch } from './submissions.js';
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
 *   which is how a job claimed by a dead process runs again (LeaseKeeper, lease-keeper.ts).
 * - `settle` completes the job (the handle resolves once that has committed); a `cancelled`
 *   outcome — the engine closing or destroyed — releases it instead (`not_begun` if it never began).
 * - After a short claim, a WorkWaiter (work-waiter.ts) wakes the engine when work may be ready.
 * - The batches are written by an EnqueueWriter (enqueue-writer.ts) and a SettleWriter (settle-writer.ts).
 */
export class StoreEngineQueue implements EngineQueue<JobRecord> {
  readonly #options: StoreEngineQueueOptions;
  readonly #store: QueueStore;
  /** Own entries waiting: buffered for enqueue, or queued in the store. */
  readonly #waiting = new Set<JobRecord>();
  /** Own entries known to the store, by job id, until settled. */
  readonly #byId = new Map<QueueJobId, JobRecord>();
  /** Entries whose idempotency key matched a job not finished yet (or a producer's), watched until it is. */
  readonly #watched: StoredJobWatch;
  /** Entries the store answered with a job another engine enqueued (their key's): see letGo. */
  readonly #followers = new WeakSet<JobRecord>();
  /** Unsettled entries whose cancellation the store recorded: their settle writes nothing (and drops them). */
  readonly #cancelled = new Set<JobRecord>();
  /** Entries whose lease the store refused: their settle reports the store's outcome instead. */
  readonly #leaseLost = new Set<JobRecord>();
  /** Entries whose cancel is under way: a claim that leases one to this engine holds it back (#taken). */
  readonly #cancelling = new Set<JobRecord>();
  /** The leases of entries held back for their cancel, never handed to the pool. */
  readonly #heldForCancel = new Map<JobRecord, Lease>();
  /**
   * Cancels under way of entries that were not running here when asked (not written, or waiting in
   * the store): a claim asked for meanwhile waits for them (take), and one asked for after they began
   * is what they wait for instead (#lastClaim).
   */
  readonly #notRunningCancels = new Set<Promise<boolean>>();
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
  /**
   * The last enqueue batch, which a claim on an unordered store waits for; on SQLite the last take's
   * write, which settles after every enqueue asked for before it (see #takeNow).
   */
  #enqueued: Promise<void> = Promise.resolve();
  /** The last claim; settled once its leases are taken. */
  #lastClaim: Promise<void> = Promise.resolve();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #stop = new AbortController();
  readonly #work: WorkWaiter;
  readonly #leases: LeaseKeeper;
  readonly #enqueues: EnqueueWriter;
  readonly #settles: SettleWriter;
  #intakeClosed = false;
  #closing: Promise<void> | undefined;

  constructor(options: StoreEngineQueueOptions) {
    this.#options = options;
    this.#store = options.store;
    const { signal } = this.#stop;
    this.#watched = new StoredJobWatch(
      options.store,
      (promise) => this.#track(promise),
      options.hooks.settled,
    );
    if (options.runsJobs) lookOutForFinishedElsewhere(options, this.#waiting, signal, this.#track);
    this.#work = new WorkWaiter(options.store, signal, () => options.hooks.onReady());
    this.#leases = new LeaseKeeper(options, this.#byId, this.#waiting, this.#leaseLost, signal, this.#track);
    const claim = (limit: number, tasks: readonly string[]) => this.#claim(limit, tasks);
    this.#enqueues = new EnqueueWriter(
      options,
      { byId: this.#byId, waiting: this.#waiting, watched: this.#watched, followers: this.#followers },
      this.#track,
      claim,
    );
    this.#settles = new SettleWriter(options.store, this.#track, this.#leases);
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
    if (this.#notRunningCancels.size === 0) return this.#takeNow(limit, into);
    // A job not running here when cancelled is being written (if need be) and cancelled (#cancel): a
    // claim now could lease it here first. So the claim waits for those cancels, only those under way
    // now: one that begins meanwhile waits for this claim instead, so that a stream of cancels cannot
    // starve claims.
    const claimed = Promise.allSettled([...this.#notRunningCancels]).then(() => this.#takeNow(limit, into));
    this.#lastClaim = claimed.then(ignore, ignore);
    return claimed;
  }

  #takeNow(limit: number, into: (JobRecord | undefined)[]): number | Promise<number> {
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
      //
      // This claim waits for no enqueue, yet it may lease jobs of one still in flight (held entries
      // written apart, by #storeHeldSoon, a cancel or a drain, join the same SQLite group commit):
      // #mapped maps them once that enqueue's are (fused-claim-order.test.ts). GroupCommit settles
      // writes in the order asked for, in one synchronous loop, which makes a cancel's wait for
      // #enqueued, this claim's below, a wait for every enqueue asked for before it.
      const fresh = this.#takeEnqueues();
      this.#flush();
      const claimed =
        fresh.batch.length > 0
          ? this.#enqueues.enqueueAndClaim(fresh, limit, tasks)
          : this.#claim(limit, tasks);
      this.#enqueued = claimed.then(ignore, ignore);
      this.#takePending = true;
      const resume = () => {
        this.#takePending = false;
        if (this.#toEnqueue.length > 0) this.#storeHeldSoon();
      };
      const taken = claimed.then(
        (leases) => {
          resume();
          return this.#mapped(leases, limit, into);
        },
        (error: unknown) => {
          resume();
          throw error;
        },
      );
      // Its mapping, which #mapped may put off past the write: a cancel that waited for the write
      // alone, or for a batch written apart after it (#enqueued then), looked for its entry held
      // back before the claim had held it (#writtenUnstarted).
      this.#lastClaim = taken.then(ignore, ignore);
      return taken;
    }
    // Writes not applied in order (Postgres): the claim is asked for once the enqueue before it has
    // committed, so that it can see those jobs, and mapped once the ids of every job it may have
    // seen are known (#mapped): an enqueue asked for after it may have committed before it ran.
    this.#flush();
    const taken = this.#enqueued
      .then(() => this.#claim(limit, tasks))
      .then((leases) => this.#mapped(leases, limit, into));
    this.#lastClaim = taken.then(ignore, ignore);
    return taken;
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
      return Promise.resolve(new Map([[entry, this.#leases.storedOutcome(id, entry.attempt)]]));
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
    this.#batchWritten ??= batchWritten();
    return this.#batchWritten.promise;
  }

  cancel(entry: JobRecord, reason: string): Promise<boolean> {
    return this.#cancelOrLetGo(entry, reason, false);
  }

  /**
   * The store does not count who holds a job across engines: a follower's callers are this engine's
   * alone, so their signals end only their handle, never the job of the engine that enqueued it.
   */
  letGo(entry: JobRecord, reason: string): Promise<boolean> {
    return this.#cancelOrLetGo(entry, reason, true);
  }

  async #cancelOrLetGo(entry: JobRecord, reason: string, letGo: boolean): Promise<boolean> {
    this.#cancelling.add(entry);
    try {
      return await this.#cancel(entry, reason, letGo);
    } finally {
      this.#cancelling.delete(entry);
      this.#heldForCancel.delete(entry);
    }
  }

  async #cancel(entry: JobRecord, reason: string, letGo: boolean): Promise<boolean> {
    // Running here: its attempt began, and is counted.
    if (entry.storeId !== undefined && entry.lease !== undefined) {
      return this.#endStoredEntry(entry, entry.storeId, reason, letGo);
    }
    // Not running here: written first if it is not yet (a batch on its way cannot be taken back),
    // then cancelled once the claims under way have been mapped, with this engine's claims asked
    // for meanwhile waiting (take). A claim that leased it here before the cancel's commit counted
    // an attempt the task never began (the handle said attempts: 1): it is given back unbegun first.
    // Only once written is it known whether the store answered with another engine's job.
    const cancelled = this.#cancelNotRunning(entry, reason, letGo);
    this.#notRunningCancels.add(cancelled);
    try {
      return await cancelled;
    } finally {
      this.#notRunningCancels.delete(cancelled);
    }
  }

  async #cancelNotRunning(entry: JobRecord, reason: string, letGo: boolean): Promise<boolean> {
    await this.#writtenUnstarted(entry);
    const id = entry.storeId;
    return id === undefined ? false : await this.#endStoredEntry(entry, id, reason, letGo);
  }

  #endStoredEntry(entry: JobRecord, id: QueueJobId, reason: string, letGo: boolean): Promise<boolean> {
    return letGo && this.#followers.has(entry)
      ? this.#stopFollowing(entry, id)
      : this.#cancelStoredEntry(entry, id, reason);
  }

  /** A follower let go: ends here, with the attempts the store holds, and writes nothing. */
  async #stopFollowing(entry: JobRecord, id: QueueJobId): Promise<boolean> {
    // Running here (this engine claimed the job it followed): the job is not this caller's to stop.
    if (entry.settled || entry.lease !== undefined) return false;
    if (this.#watched.take(id) === undefined && this.#byId.get(id) !== entry) return false;
    this.#waiting.delete(entry);
    this.#cancelled.add(entry);
    await this.#takeStoredAttempts(entry, id);
    return true;
  }

  /**
   * Once `entry` is written and queued. On SQLite new jobs go with the engine's next claim, which may
   * already be under way, leasing them here: #enqueued is its write, #lastClaim its leases taken. On
   * Postgres a claim that waited for the enqueue runs beside this cancel and may lease the entry here
   * too, as may a claim that waits for other cancels: #lastClaim. Those under way now are all (take
   * makes a later one wait for this cancel). A claim among them held the entry back (#taken); it goes
   * back to the queue unbegun, so that its cancel counts no attempt. On Postgres the entry's batch may
   * answer after a later one (#enqueued): EnqueueWriter.unmapped.
   */
  async #writtenUnstarted(entry: JobRecord): Promise<void> {
    if (this.#toEnqueue.includes(entry)) this.#flush();
    await Promise.all([this.#enqueued, this.#lastClaim, ...this.#enqueues.unmapped]);
    const held = this.#heldForCancel.get(entry);
    if (held === undefined) return;
    this.#heldForCancel.delete(entry);
    await this.#track(this.#store.release([{ lease: held, uncounted: 'not_begun' }])).catch(ignore);
  }

  async #cancelStoredEntry(entry: JobRecord, id: QueueJobId, reason: string): Promise<boolean> {
    if (entry.settled) return false;
    // An attempt running here is counted here. Any other entry's count may be short: another engine
    // on the store may have run the job (a producer's, a key's repeat, or one of this engine's own
    // that another engine claimed), so its handle takes the store's count, as getStoredJob does.
    const countsHere = entry.lease !== undefined;
    const result = await this.#track(this.#store.cancel(id, storedCancellation(reason, entry.attempt)));
    if (result.kind !== 'cancelled') return false;
    this.#waiting.delete(entry);
    this.#watched.take(id);
    if (!entry.settled) this.#cancelled.add(entry);
    if (!countsHere) await this.#takeStoredAttempts(entry, id);
    return true;
  }

  /** So that its handle says the attempts the store holds, as getStoredJob's outcome does. */
  async #takeStoredAttempts(entry: JobRecord, id: QueueJobId): Promise<void> {
    const stored = await this.#track(this.#store.getJob(id)).catch(() => undefined);
    if (stored !== undefined && stored.attempts > entry.attempt) entry.attempt = stored.attempts;
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

  endSubmission(): void {
    const end = this.#toEnqueue.length;
    const ends = this.#submissionEnds;
    if (end > 0 && ends[ends.length - 1] !== end) ends.push(end);
  }

  /**
   * Stops claiming; own waiting entries are returned, and stay queued in the store. With entries not
   * written yet, once they are: a refused one is not returned (it settles with the refusal). On
   * Postgres an earlier batch may answer after the last (#enqueued): EnqueueWriter.unmapped.
   */
  drain(): JobRecord[] | Promise<JobRecord[]> {
    this.#stop.abort();
    if (this.#toEnqueue.length === 0 && [...this.#waiting].every((entry) => entry.storeId !== undefined)) {
      return this.#drainWaiting();
    }
    this.#flush();
    return Promise.all([this.#enqueued, ...this.#enqueues.unmapped]).then(() => this.#drainWaiting());
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
      this.#leases.stop();
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

  /**
   * #taken, once the enqueues in flight are mapped when a lease names a job this engine does not know.
   * A claim asked for before an enqueue may lease its jobs (on Postgres, on its own lane, run after
   * the commit; on SQLite, in the same group commit): #taken would adopt them as another process's,
   * and run each as a second record while its own entry waits (its cancel then reports that attempt).
   */
  #mapped(leases: readonly Lease[], limit: number, into: (JobRecord | undefined)[]) {
    const unmapped = this.#enqueues.unmapped;
    if (unmapped.length === 0 || leases.every((lease) => this.#byId.has(lease.jobId))) {
      return this.#taken(leases, limit, into);
    }
    return Promise.all(unmapped).then(() => this.#taken(leases, limit, into));
  }

  #taken(leases: readonly Lease[], limit: number, into: (JobRecord | undefined)[]): number {
    let taken = 0;
    for (const lease of leases) {
      let entry = this.#byId.get(lease.jobId);
      if (entry?.lease !== undefined) {
        // Claimed again while its attempt still runs here under the expired lease (stalled, or
        // stopping): that attempt is stopped, and the new lease adopted as a record of its own.
        const stale = entry;
        queueMicrotask(() =>
          this.#leases.lost(stale, `the store gave job ${lease.jobId} to this engine again`),
        );
        entry = undefined;
      }
      if (entry === undefined) {
        entry = this.#watched.take(lease.jobId) ?? this.#options.adopt(lease);
        if (entry === undefined) continue;
        entry.storeId = lease.jobId;
        this.#byId.set(lease.jobId, entry);
      }
      if (this.#cancelling.has(entry)) {
        // Its cancel is on its way (the claim that wrote it leased it here): never started.
        entry.storeId = lease.jobId;
        this.#heldForCancel.set(entry, lease);
        continue;
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
    if (this.#toEnqueue.length > 0 && !holdEnqueues) {
      this.#enqueued = this.#enqueues.enqueue(this.#takeEnqueues());
    }
    if (this.#toRelease.length > 0) {
      const batch = this.#toRelease;
      const entries = this.#releasing;
      this.#toRelease = [];
      this.#releasing = [];
      this.#settles.release(batch, entries);
    }
    if (this.#toComplete.length > 0) {
      const batch = this.#toComplete;
      const entries = this.#completing;
      const written = this.#batchWritten;
      this.#toComplete = [];
      this.#completing = [];
      this.#batchWritten = undefined;
      this.#settles.complete(batch, entries, written);
    }
  }

  #takeEnqueues(): EnqueueBatch {
    const taken = { batch: this.#toEnqueue, submissionEnds: this.#submissionEnds };
    this.#toEnqueue = [];
    this.#submissionEnds = [];
    return taken;
  }

  readonly #track = <T>(promise: Promise<T>): Promise<T> => {
    this.#pending.add(promise);
    const forget = () => this.#pending.delete(promise);
    promise.then(forget, forget);
    return promise;
  };
}

function ignore(): void {}
