import type Database from 'better-sqlite3';
import type {
  CancelOutcome,
  CancelResult,
  ClaimRequest,
  Completion,
  CompletionResult,
  EnqueuedAndClaimed,
  EnqueueResult,
  ExpiredLease,
  GetJobsOptions,
  Lease,
  LeaseRef,
  NewQueueJob,
  QueueJob,
  QueueJobId,
  QueueStore,
  Release,
  ReleaseResult,
  ResolvedQueueOptions,
  StaleWrite,
} from '../queue.js';
import { asQueueJobId, claimLimit } from '../queue.js';
import {
  checkClaimRequest,
  enqueuedJob,
  leaseTtl,
  outcomeText,
  type QueueInsert,
  queueFullError,
  releaseNotBefore,
  staleAction,
  staleLeaseError,
  toQueueInsert,
} from '../queue-rows.js';
import { WorkSignal } from '../work-signal.js';
import type { GroupCommit } from './group-commit.js';
import { type LocalWaiter, LocalWaiters } from './local-waiters.js';
import { QueueBatchWrites } from './queue-batch-writes.js';
import { cancelQueueJob } from './queue-cancel.js';
import {
  type ClaimStatements,
  claimedLease,
  claimStatements,
  consecutiveIds,
  fewJobs,
  leaseFromRow,
  readReadyJobs,
  ready,
  takesAllOf,
} from './queue-claims.js';
import { jobFromRow } from './queue-job-row.js';
import { type QueueStatements, queueStatements } from './queue-statements.js';
import { WalWatch } from './wal-watch.js';

/** Task lists whose claim statements are kept prepared; an engine has one list at a time, mostly. */
const maxTaskLists = 16;

/**
 * QueueStore on the shared better-sqlite3 connection and its group commit. SQLite allows one writer at
 * a time, so claims need no row locks: a claim's select and update run inside one IMMEDIATE
 * transaction. Wake-ups: a worker of this process waiting in claimOrWait is handed an enqueue's jobs
 * in the enqueue's own write (local-waiters.ts), and other waiters are released as an enqueue or
 * requeue is requested or commits; another process's commits are noticed as they touch the
 * file's WAL (wal-watch.ts), and by a slow poll (`pollIntervalMs`) where that cannot be watched.
 */
export class SqliteQueueStore implements QueueStore {
  readonly #commits: GroupCommit;
  readonly #options: ResolvedQueueOptions;
  readonly #work = new WorkSignal();
  readonly #waiters = new LocalWaiters();
  readonly #statements: QueueStatements;
  readonly #batches: QueueBatchWrites;
  readonly #db: Database.Database;
  /**
   * Claim statements by task list (its JSON): `task IN (?, …)` with one parameter per task, which
   * SQLite checks per row far faster than a subquery over a JSON array.
   */
  readonly #byTasks = new Map<string, ClaimStatements>();
  readonly #claimAny: ClaimStatements;

  readonly #walWatch: WalWatch | undefined;

  /** `path`: the database file, whose WAL is watched for other processes' commits; none in memory. */
  constructor(db: Database.Database, commits: GroupCommit, options: ResolvedQueueOptions, path?: string) {
    // Another process's commits are mostly not enqueues (log lines, leases): see wakeIfReady.
    this.#walWatch =
      path === undefined
        ? undefined
        : new WalWatch(db, path, () => this.#work.wakeIfReady(this.#nextReadyAt, this.#options.clock));
    this.#db = db;
    this.#commits = commits;
    this.#options = options;
    this.#claimAny = claimStatements(db, ready);
    this.#batches = new QueueBatchWrites(db);
    this.#statements = queueStatements(db);
  }

  enqueue(jobs: readonly NewQueueJob[]): Promise<EnqueueResult[]> {
    const waiter = this.#waiters.oldest();
    if (waiter !== undefined && takesAllOf(jobs, waiter.request, this.#options.clock.now()))
      return this.#enqueueHandingOff(jobs);
    const results = this.#commits.write('enqueue jobs', () => this.#enqueueNow(jobs));
    // Woken before the commit, so that an idle worker's claim joins this batch: writes run in the
    // order requested, so the claim sees these jobs and is granted in the same commit, one commit
    // sooner than after a wake on this one. A refused batch only costs the woken an empty claim.
    if (jobs.length > 0) this.#work.wake();
    return results;
  }

  /**
   * An enqueue whose jobs a waiting worker of this process would take whole: leased on insert to the
   * oldest waiter when a claim of its right after would take exactly these jobs, and handed to it as
   * the write commits; otherwise (another job was ready, the queue is full, or that waiter gave up)
   * queued, and the waiters woken once it has committed.
   */
  #enqueueHandingOff(jobs: readonly NewQueueJob[]): Promise<EnqueueResult[]> {
    let handed: { readonly waiter: LocalWaiter; readonly leases: Lease[] } | undefined;
    const written = this.#commits.write('enqueue jobs', () => {
      const { clock, agingIntervalMs } = this.#options;
      const now = clock.now();
      const inserts = jobs.map((job, i) => toQueueInsert(job, i, now, agingIntervalMs));
      const waiter = this.#waiters.oldest();
      const leased =
        waiter === undefined ? undefined : this.#leaseOnInsert(inserts, waiter.request, now, storedPayload);
      if (waiter === undefined || leased === undefined) return this.#enqueueNow(jobs, inserts);
      this.#waiters.take(waiter);
      handed = { waiter, leases: leased.leases };
      return leased.enqueued;
    });
    return written.then(
      (enqueued) => {
        if (handed === undefined) this.#work.wake();
        else handed.waiter.settle(handed.leases);
        return enqueued;
      },
      (error: unknown) => {
        // Nothing of the write is left: a waiter handed its jobs claims again.
        if (handed === undefined) this.#work.wake();
        else handed.waiter.settle([]);
        throw error;
      },
    );
  }

  claim(request: ClaimRequest): Promise<Lease[]> {
    return this.#commits.write('claim queue jobs', () => {
      checkClaimRequest(request, 'claim');
      return this.#claimNow(request);
    });
  }

  async enqueueAndClaim(jobs: readonly NewQueueJob[], request: ClaimRequest): Promise<EnqueuedAndClaimed> {
    let leasedOnInsert = false;
    const result = await this.#commits.write('enqueue and claim queue jobs', () => {
      checkClaimRequest(request, 'enqueueAndClaim');
      const now = this.#options.clock.now();
      const inserts = jobs.map((job, i) => toQueueInsert(job, i, now, this.#options.agingIntervalMs));
      const leased = this.#leaseOnInsert(inserts, request, now);
      leasedOnInsert = leased !== undefined;
      return leased ?? { enqueued: this.#enqueueNow(jobs, inserts), leases: this.#claimNow(request) };
    });
    // As after enqueue: jobs left queued may be for other claimers.
    if (!leasedOnInsert && result.enqueued.some((r) => r.kind === 'created')) this.#work.wake();
    return result;
  }

  #claimNow(request: ClaimRequest): Lease[] {
    const tasks = request.tasks;
    const limit = claimLimit(request);
    if (limit === 0) return [];
    const statements = tasks === undefined ? this.#claimAny : this.#taskStatements(tasks);
    const now = this.#options.clock.now();
    const expiresAt = now + request.ttlMs;
    const filter = tasks === undefined ? [now] : [now, ...tasks];
    const read = readReadyJobs(statements, now, filter, limit);
    const rows = read.rows;
    if (rows.length === 0) return [];
    if (rows.length <= fewJobs) {
      for (const row of rows) this.#statements.leaseOne.run(request.worker, expiresAt, row[0]);
    } else if (consecutiveIds(rows)) {
      // n distinct ids spanning n integers are all the ids in that range: a range over the primary
      // key takes exactly the rows read, without selecting them again through the ready index.
      const first = rows[0]?.[0] ?? 0;
      if (
        this.#statements.leaseRange.run(request.worker, expiresAt, first, first + rows.length - 1).changes !==
        rows.length
      ) {
        throw new Error('a claim leased other jobs than it had read');
      }
    } else if (
      statements.leaseReady.run(request.worker, expiresAt, ...filter, limit).changes !== rows.length
    ) {
      throw new Error('a claim leased other jobs than it had read');
    }
    return rows.map((_, i) => claimedLease(read, i, request.worker, expiresAt));
  }

  /**
   * Writes the new jobs leased when a claim right after their enqueue would take exactly them: each
   * is ready, of a claimed task, without an idempotency key, the limit holds them all, no other job is
   * ready, and the batch fits the capacity. Undefined (nothing written) otherwise. A lease carries
   * `payloadOf(insert)`: by default the submitted value itself, for a submitter that claims its own
   * jobs; a worker handed another caller's jobs gets its own copy, as a claim would.
   */
  #leaseOnInsert(
    inserts: readonly QueueInsert[],
    request: ClaimRequest,
    now: number,
    payloadOf: (insert: QueueInsert) => unknown = submittedPayload,
  ): EnqueuedAndClaimed | undefined {
    const tasks = request.tasks;
    if (!takesAllOf(inserts, request, now)) return undefined;
    const statements = tasks === undefined ? this.#claimAny : this.#taskStatements(tasks);
    const readyBefore = statements.anyReady.get(...(tasks === undefined ? [now] : [now, ...tasks]), 1);
    if (readyBefore !== undefined) return undefined;
    const queued = this.#statements.countQueued.get() ?? 0;
    if (queued + inserts.length > this.#options.capacity) return undefined;
    const expiresAt = now + request.ttlMs;
    const enqueued: EnqueueResult[] = [];
    const leased: { lease: Lease; queueKey: number; seq: number }[] = [];
    const ids = this.#batches.insertLeased(inserts, inserts[0]?.createdAt ?? now, request.worker, expiresAt);
    inserts.forEach((insert, i) => {
      const seq = ids[i] ?? Number.NaN;
      const jobId = asQueueJobId(String(seq));
      enqueued.push({ kind: 'created', job: enqueuedJob(insert, jobId) });
      const lease: Lease = {
        jobId,
        token: 1,
        worker: request.worker,
        expiresAt,
        task: insert.task,
        payload: payloadOf(insert),
        attempt: 1,
      };
      leased.push({ lease, queueKey: insert.queueKey, seq });
    });
    leased.sort((a, b) => a.queueKey - b.queueKey || a.seq - b.seq);
    return { enqueued, leases: leased.map((entry) => entry.lease) };
  }

  #taskStatements(tasks: readonly string[]): ClaimStatements {
    const key = JSON.stringify(tasks);
    let statements = this.#byTasks.get(key);
    if (statements === undefined) {
      statements = claimStatements(this.#db, `${ready} AND task IN (${tasks.map(() => '?').join(', ')})`);
      if (this.#byTasks.size >= maxTaskLists) this.#byTasks.clear();
      this.#byTasks.set(key, statements);
    }
    return statements;
  }

  async renew(lease: LeaseRef, ttlMs: number): Promise<Lease> {
    leaseTtl(ttlMs, 'renew: ttlMs');
    const renewed = await this.#commits.write(`renew the lease on queue job ${lease.jobId}`, () => {
      const now = this.#options.clock.now();
      const row = this.#statements.renew.get(now + ttlMs, Number(lease.jobId), lease.token);
      if (row !== undefined) return leaseFromRow(row, row.lease_worker, now + ttlMs);
      this.#statements.recordStale.run(Number(lease.jobId), lease.token, 'renew', now);
      return undefined;
    });
    if (renewed === undefined) throw staleLeaseError(lease.jobId, lease.token, 'renewing the lease');
    return renewed;
  }

  complete(completions: readonly Completion[]): Promise<CompletionResult[]> {
    return this.#commits.write('complete queue jobs', () => {
      const now = this.#options.clock.now();
      // The common batch — each job once, every lease current — in a few multi-row updates; any other
      // is settled one by one, where a job named twice keeps its first outcome.
      if (completions.length > 1 && this.#batches.complete(completions, now)) {
        return completions.map(({ lease }): CompletionResult => ({ kind: 'completed', jobId: lease.jobId }));
      }
      // Every outcome encoded before the first is written: one with no JSON refuses the batch whole.
      const texts = completions.map((completion) => outcomeText(completion, completions));
      return completions.map(({ lease, outcome }, i): CompletionResult => {
        const seq = Number(lease.jobId);
        const { changes } = this.#statements.complete.run(
          outcome.kind,
          texts[i] ?? null,
          now,
          seq,
          lease.token,
        );
        if (changes > 0) return { kind: 'completed', jobId: lease.jobId };
        this.#statements.recordStale.run(seq, lease.token, 'complete', now);
        return { kind: 'stale', jobId: lease.jobId, token: lease.token };
      });
    });
  }

  async release(releases: readonly Release[]): Promise<ReleaseResult[]> {
    const notBefore = releases.map((release, i) => releaseNotBefore(release.notBefore, i));
    const results = await this.#commits.write('release queue jobs', () => {
      const now = this.#options.clock.now();
      const results = releases.map(({ lease, uncounted }, i): ReleaseResult => {
        const seq = Number(lease.jobId);
        const at = notBefore[i] ?? null;
        const { changes } = this.#statements.release.run(
          at,
          Math.max(now, at ?? now),
          this.#options.agingIntervalMs,
          uncounted === 'not_begun' ? 1 : 0,
          uncounted === 'forgiven' ? 1 : 0,
          seq,
          lease.token,
        );
        if (changes > 0) return { kind: 'released', jobId: lease.jobId };
        this.#statements.recordStale.run(seq, lease.token, 'release', now);
        return { kind: 'stale', jobId: lease.jobId, token: lease.token };
      });
      return results;
    });
    // Waiters look again: a released job may be ready now, or earlier than what they wait for.
    if (results.some((result) => result.kind === 'released')) this.#work.wake();
    return results;
  }

  cancel(id: QueueJobId, outcome: CancelOutcome): Promise<CancelResult> {
    const now = () => this.#options.clock.now();
    return this.#commits.write(`cancel queue job ${id}`, () => cancelQueueJob(this.#db, id, outcome, now()));
  }

  async expireLeases(): Promise<ExpiredLease[]> {
    const expired = await this.#commits.write('expire queue leases', () => {
      const leases = this.#statements.expire.all({ now: this.#options.clock.now() }).map(
        (row): ExpiredLease => ({
          kind: row.state === 'queued' ? 'requeued' : 'failed',
          jobId: asQueueJobId(String(row.seq)),
          token: row.lease_token,
        }),
      );
      return leases;
    });
    if (expired.some((lease) => lease.kind === 'requeued')) this.#work.wake();
    return expired;
  }

  waitForWork(signal: AbortSignal): Promise<void> {
    this.#walWatch?.start();
    return this.#work.wait(signal, this.#options.clock, this.#nextReadyAt, this.#options.pollIntervalMs);
  }

  /**
   * A claim; when it finds nothing, a wait in which an enqueue of this process may hand it jobs
   * (local-waiters.ts). A worker of another process on the file claims for itself after its poll.
   */
  async claimOrWait(request: ClaimRequest, signal: AbortSignal): Promise<Lease[]> {
    const leases = await this.claim(request);
    if (leases.length > 0 || signal.aborted) return leases;
    this.#walWatch?.start();
    const armed = this.#work.arm(
      this.#options.clock,
      this.#nextReadyAtAfterTurn,
      this.#options.pollIntervalMs,
    );
    return this.#waiters.wait(request, signal, armed);
  }

  /**
   * nextReadyAt, looked up once this turn of the event loop is over. A worker that finds nothing has
   * mostly just finished a job, whose completion it requests in this turn, to be committed in the
   * next: the look (a read, which first commits what is pending) then comes after that commit, and
   * its read transaction moves SQLite's WAL read mark past it. Looked up at once, it came before,
   * and the next enqueue was the first transaction after the commit, so it moved the mark itself:
   * two more fcntl() lock calls (~3 µs each here) between the enqueue and the idle worker's start.
   * The wait is registered before, as ever, so a wake-up in between is not missed.
   */
  readonly #nextReadyAtAfterTurn = (): Promise<number | undefined> =>
    new Promise<void>((resolve) => setImmediate(resolve)).then(this.#nextReadyAt);

  /** When the earliest queued job is ready (epoch ms), for a waiter; undefined when none is queued. */
  readonly #nextReadyAt = (): Promise<number | undefined> =>
    this.#commits.read('look for queued jobs', () => this.#statements.nextReadyAt.get() ?? undefined);

  /** Stops watching the file; the store's close() calls it. Idempotent. */
  stopWatching(): void {
    this.#walWatch?.close();
  }

  async getJob(id: QueueJobId): Promise<QueueJob | undefined> {
    return (await this.getJobs([id]))[0];
  }

  getJobs(ids: readonly QueueJobId[], options: GetJobsOptions = {}): Promise<QueueJob[]> {
    const seqs = ids.filter((id) => /^[1-9][0-9]*$/.test(id)).map(Number);
    if (seqs.length === 0) return Promise.resolve([]);
    const finishedOnly = options.finishedOnly === true ? 1 : 0;
    return this.#commits.read(
      seqs.length === 1 ? `read queue job ${seqs[0]}` : `read ${seqs.length} queue jobs`,
      () => this.#statements.getMany.all(JSON.stringify(seqs), finishedOnly).map(jobFromRow),
    );
  }

  staleWrites(jobId?: QueueJobId): Promise<StaleWrite[]> {
    return this.#commits.read('list stale queue writes', () => {
      const key = jobId === undefined ? 0 : Number(jobId);
      return this.#statements.staleWrites.all(key, key).map((row) => ({
        jobId: asQueueJobId(String(row.job_id)),
        token: row.token,
        action: staleAction(row.action),
        at: row.at,
      }));
    });
  }

  #enqueueNow(jobs: readonly NewQueueJob[], validated?: readonly QueueInsert[]): EnqueueResult[] {
    const { clock, agingIntervalMs, idempotencyWindowMs, capacity } = this.#options;
    const now = clock.now();
    const inserts = validated ?? jobs.map((job, i) => toQueueInsert(job, i, now, agingIntervalMs));
    const existing = new Map<string, QueueJob>();
    // The first job with a new key is inserted; later ones in the batch resolve to it.
    const firstOfKey = new Set<string>();
    const fresh = inserts.filter((insert) => {
      const key = insert.idempotencyKey;
      if (key === null) return true;
      if (existing.has(key) || firstOfKey.has(key)) return false;
      const row = this.#statements.byIdempotencyKey.get(key, now - idempotencyWindowMs);
      if (row !== undefined) {
        existing.set(key, jobFromRow(row));
        return false;
      }
      firstOfKey.add(key);
      return true;
    });
    const queued = this.#statements.countQueued.get() ?? 0;
    if (queued + fresh.length > capacity) throw queueFullError(queued, capacity, fresh.length);
    if (fresh.length === inserts.length) {
      // No job matched another by key (none had one, mostly): each is created, in order.
      const ids = fresh.length === 0 ? [] : this.#batches.insertQueued(fresh, fresh[0]?.createdAt ?? now);
      return fresh.map(
        (insert, i): EnqueueResult => ({ kind: 'created', job: enqueuedJob(insert, String(ids[i])) }),
      );
    }
    const created = new Map<QueueInsert, QueueJob>();
    if (fresh.length > 0) {
      const ids = this.#batches.insertQueued(fresh, fresh[0]?.createdAt ?? now);
      fresh.forEach((insert, i) => {
        const job = enqueuedJob(insert, String(ids[i]));
        created.set(insert, job);
        if (insert.idempotencyKey !== null) existing.set(insert.idempotencyKey, job);
      });
    }
    return inserts.map((insert): EnqueueResult => {
      const job = created.get(insert);
      if (job !== undefined) return { kind: 'created', job };
      const first = insert.idempotencyKey === null ? undefined : existing.get(insert.idempotencyKey);
      if (first === undefined) throw new Error('an idempotent submission lost its job');
      return { kind: 'existing', job: first };
    });
  }
}

const submittedPayload = (insert: QueueInsert): unknown => insert.payloadValue;
const storedPayload = (insert: QueueInsert): unknown => JSON.parse(insert.payload);
