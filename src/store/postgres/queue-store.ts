import { messageOf } from '../../core/error-message.js';
import { ValkyrieError } from '../../core/errors.js';
import { defaultPriority, priorities } from '../../core/priority.js';
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
import { asQueueJobId, claimLimit, claimThenWait } from '../queue.js';
import {
  checkClaimRequest,
  enqueuedJob,
  leaseTtl,
  outcomeText,
  type QueueInsert,
  type QueueRow,
  queueFullError,
  queueJobFromRow,
  releaseNotBefore,
  staleAction,
  staleLeaseError,
  toQueueInsert,
} from '../queue-rows.js';
import { integerArrayLiteral, sameOrAll, textArrayLiteral } from './array-literal.js';
import type { PostgresDatabase, Query } from './database.js';
import { toStoreError } from './errors.js';
import type { NotificationListener } from './notification-listener.js';
import { applyInRounds, occurrenceRounds, type RefusedRow } from './occurrence-rounds.js';
import { cancelQueueJob } from './queue-cancel.js';
import {
  type ClaimedColumns,
  claimOrWait,
  type HandOffContext,
  handedRefs,
  leasesFromColumns,
} from './queue-hand-off.js';
import { uncountReleased } from './queue-release.js';
import { statements } from './queue-statements.js';

type Row = QueueRow<string>;
interface LeaseRow {
  seq: string;
  task: string;
  payload: unknown;
  attempts: number;
  lease_token: string;
  lease_worker: string;
}

/** Tries of the synchronous write that makes a `visibleFirst` enqueue durable (#flushEnqueued). */
const flushAttempts = 3;

/** Ids are canonical decimal identity values; anything else would fail the statement's cast. */
const jobKey = (id: string): string | undefined => (/^[1-9][0-9]{0,17}$/.test(id) ? id : undefined);
const isJobKey = (id: string): boolean => jobKey(id) !== undefined;

function namesEachJobOnce(writes: readonly { readonly lease: LeaseRef }[]): boolean {
  const ids = new Set<string>();
  for (const { lease } of writes) ids.add(lease.jobId);
  return ids.size === writes.length;
}

/**
 * QueueStore on the shared pool and its group commit. Claims take rows with `FOR UPDATE SKIP LOCKED`,
 * so claimers in several processes never wait for each other nor get the same job; wake-ups travel
 * by LISTEN/NOTIFY (see NotificationListener), never by polling.
 */
export class PostgresQueueStore implements QueueStore {
  readonly #db: PostgresDatabase;
  readonly #options: ResolvedQueueOptions;
  readonly #listener: NotificationListener;
  readonly #handOffs: HandOffContext;

  /** The bundle owns `listener` and closes it, which wakes every waiter. */
  constructor(db: PostgresDatabase, options: ResolvedQueueOptions, listener: NotificationListener) {
    this.#db = db;
    this.#options = options;
    this.#listener = listener;
    this.#handOffs = {
      db,
      listener,
      options,
      giveBack: (payload) => {
        // Given back at once; should that fail, they expire as leases of a worker that died would.
        this.release(handedRefs(payload).map((lease) => ({ lease }))).catch(() => {});
      },
    };
    listener.onUnclaimedHandOff(this.#handOffs.giveBack);
  }

  async enqueue(jobs: readonly NewQueueJob[]): Promise<EnqueueResult[]> {
    // One statement unless idempotency keys are looked up first, under the submission lock.
    const keyed = jobs.some((job) => job.idempotencyKey !== undefined);
    let visibleFirst = false;
    const results = await this.#db.write(
      'enqueue jobs',
      (query, { autocommit }) => {
        visibleFirst = autocommit && !keyed;
        return this.#enqueueNow(query, jobs, visibleFirst);
      },
      { atomic: keyed },
    );
    const created = results.some((result) => result.kind === 'created');
    // This process's waiters need not wait for the notification's round trip.
    if (created) this.#listener.work.wake();
    if (created && visibleFirst) await this.#flushEnqueued();
    return results;
  }

  /**
   * After a `visibleFirst` enqueue has committed: a synchronous write, whose commit flushes the WAL
   * through the enqueue's. Its own write, on whichever connection the pool gives: the jobs exist
   * whatever happens to it, so a failure must not report them refused — it is tried again, and only
   * when that keeps failing is the enqueue's durability reported unknown.
   */
  async #flushEnqueued(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#db.write('flush enqueued jobs', (query) => query(statements.flushEnqueued, []));
        return;
      } catch (error) {
        if (attempt === flushAttempts) {
          const reason = messageOf(error);
          throw new ValkyrieError(
            'VK_STORE',
            `the jobs were stored, but the database did not confirm they are durable (${reason}); ` +
              'they may still run: look them up before submitting them again',
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20 * 4 ** (attempt - 1)));
      }
    }
  }

  claim(request: ClaimRequest): Promise<Lease[]> {
    return this.#db.write(
      'claim queue jobs',
      (query) => {
        checkClaimRequest(request, 'claim');
        return this.#claimNow(query, request);
      },
      { lane: 'claims' },
    );
  }

  /** Enqueue, then claim, in one transaction: the claim sees the new jobs beside every other ready one. */
  async enqueueAndClaim(jobs: readonly NewQueueJob[], request: ClaimRequest): Promise<EnqueuedAndClaimed> {
    const result = await this.#db.write(
      'enqueue and claim queue jobs',
      async (query) => {
        checkClaimRequest(request, 'enqueueAndClaim');
        const enqueued = await this.#enqueueNow(query, jobs, false);
        return { enqueued, leases: await this.#claimNow(query, request) };
      },
      { atomic: true },
    );
    // New jobs the claim left queued may be for this process's other claimers.
    if (result.enqueued.filter((r) => r.kind === 'created').length > result.leases.length)
      this.#listener.work.wake();
    return result;
  }

  async #claimNow(query: Query, request: ClaimRequest): Promise<Lease[]> {
    const limit = claimLimit(request);
    if (limit === 0) return [];
    const now = this.#options.clock.now();
    const expiresAt = now + request.ttlMs;
    const { rows } = await query<{ leases: ClaimedColumns | null }>(statements.claim, [
      now,
      limit,
      request.worker,
      expiresAt,
      request.tasks ?? null,
    ]);
    const claimed = rows[0]?.leases ?? null;
    return claimed === null ? [] : leasesFromColumns(claimed, expiresAt, request.worker);
  }

  async renew(lease: LeaseRef, ttlMs: number): Promise<Lease> {
    leaseTtl(ttlMs, 'renew: ttlMs');
    const renewed = await this.#db.write(
      `renew the lease on queue job ${lease.jobId}`,
      async (query) => {
        const now = this.#options.clock.now();
        const key = jobKey(lease.jobId);
        const { rows } =
          key === undefined
            ? { rows: [] }
            : await query<LeaseRow>(statements.renew, [now + ttlMs, key, lease.token]);
        const row = rows[0];
        if (row !== undefined) return leaseFromRow(row, now + ttlMs);
        if (key !== undefined) await query(statements.recordStale, [key, lease.token, 'renew', now]);
        return undefined;
      },
      // With the completions: on separate lanes a batch renewing jobs A and B and a batch completing
      // B and A locked the rows in opposite orders and deadlocked (seen with two workers on one queue).
      { lane: 'completions', atomic: true },
    );
    if (renewed === undefined) throw staleLeaseError(lease.jobId, lease.token, 'renewing the lease');
    return renewed;
  }

  complete(completions: readonly Completion[]): Promise<CompletionResult[]> {
    if (!namesEachJobOnce(completions)) return this.#completeInRounds(completions);
    // Nearly every batch: one statement, its few lines written out here. Through applyInRounds' two
    // more async layers V8 spent 100-250 ms more compiling the worker's claim and flush loops in a
    // 20,000-job trial (--trace-opt), ~2.5 µs of client CPU per job there (8% of its wall time).
    return this.#db.write(
      'complete queue jobs',
      async (query) => {
        const valid = completions.filter(({ lease }) => isJobKey(lease.jobId));
        const { rows } =
          valid.length === 0
            ? { rows: [] }
            : await query<RefusedRow>(statements.complete, this.#completeValues(valid, completions));
        if (rows.length === 0 && valid.length === completions.length)
          return completions.map(
            ({ lease }): CompletionResult => ({ kind: 'completed', jobId: lease.jobId }),
          );
        // Each job is named once, so its id and token name one completion.
        const refused = new Set(rows.map((row) => `${row.seq}:${row.token}`));
        return completions.map(
          ({ lease }): CompletionResult =>
            refused.has(`${lease.jobId}:${lease.token}`) || !isJobKey(lease.jobId)
              ? { kind: 'stale', jobId: lease.jobId, token: lease.token }
              : { kind: 'completed', jobId: lease.jobId },
        );
      },
      { lane: 'completions' },
    );
  }

  /** A batch naming some job more than once (see occurrenceRounds), in one transaction. */
  #completeInRounds(completions: readonly Completion[]): Promise<CompletionResult[]> {
    const rounds = occurrenceRounds(completions);
    return this.#db.write(
      'complete queue jobs',
      async (query) => {
        const { stale } = await applyInRounds(rounds, isJobKey, async (valid) => {
          const { rows } = await query<RefusedRow>(
            statements.complete,
            this.#completeValues(valid, completions),
          );
          return rows;
        });
        return completions.map(
          ({ lease }, i): CompletionResult =>
            stale.has(i)
              ? { kind: 'stale', jobId: lease.jobId, token: lease.token }
              : { kind: 'completed', jobId: lease.jobId },
        );
      },
      { lane: 'completions', atomic: true },
    );
  }

  /** statements.complete's parameters for completions of distinct jobs with valid ids, of `all`. */
  #completeValues(valid: readonly Completion[], all: readonly Completion[]): unknown[] {
    return [
      integerArrayLiteral(valid.map(({ lease }) => lease.jobId)),
      integerArrayLiteral(valid.map(({ lease }) => lease.token)),
      textArrayLiteral(sameOrAll(valid.map(({ outcome }) => outcome.kind))),
      textArrayLiteral(sameOrAll(valid.map((completion) => outcomeText(completion, all)))),
      this.#options.clock.now(),
    ];
  }

  async release(releases: readonly Release[]): Promise<ReleaseResult[]> {
    const rounds = occurrenceRounds(
      releases.map((release, i) => ({
        lease: release.lease,
        notBefore: releaseNotBefore(release.notBefore, i),
        uncounted: release.uncounted,
      })),
    );
    const results = await this.#db.write(
      'release queue jobs',
      async (query) => {
        const { stale, applied } = await applyInRounds(rounds, isJobKey, async (valid) => {
          const { rows } = await query<RefusedRow>(statements.release, [
            integerArrayLiteral(valid.map(({ lease }) => lease.jobId)),
            integerArrayLiteral(valid.map(({ lease }) => lease.token)),
            integerArrayLiteral(valid.map(({ notBefore }) => notBefore)),
            this.#options.clock.now(),
            this.#options.agingIntervalMs,
            priorities,
            priorities.indexOf(defaultPriority),
          ]);
          await uncountReleased(query, valid, rows);
          return rows;
        });
        // Other processes' waiters look again; delivered on commit.
        if (applied) await query(statements.notify, []);
        return releases.map(
          ({ lease }, i): ReleaseResult =>
            stale.has(i)
              ? { kind: 'stale', jobId: lease.jobId, token: lease.token }
              : { kind: 'released', jobId: lease.jobId },
        );
      },
      { lane: 'completions', atomic: true },
    );
    if (results.some((result) => result.kind === 'released')) this.#listener.work.wake();
    return results;
  }

  expireLeases(): Promise<ExpiredLease[]> {
    return this.#db.write(
      'expire queue leases',
      async (query) => {
        const { rows } = await query<{ seq: string; state: 'queued' | 'failed'; lease_token: string }>(
          statements.expire,
          [this.#options.clock.now()],
        );
        if (rows.some((row) => row.state === 'queued')) await query(statements.notify, []);
        return rows.map(
          (row): ExpiredLease => ({
            kind: row.state === 'queued' ? 'requeued' : 'failed',
            jobId: asQueueJobId(row.seq),
            token: Number(row.lease_token),
          }),
        );
      },
      { atomic: true },
    );
  }

  async waitForWork(signal: AbortSignal): Promise<void> {
    // Listening first, then looking: an enqueue committed in between is seen by one or the other.
    await this.#listener.listening().catch((error: unknown) => {
      throw toStoreError('listen for queued jobs', error);
    });
    const nextReadyAt = () =>
      this.#db.read('look for queued jobs', async (query) => {
        const { rows } = await query<{ at: string | null }>(statements.nextReadyAt, []);
        const at = rows[0]?.at;
        return at === null || at === undefined ? undefined : Number(at);
      });
    return this.#listener.work.wait(signal, this.#options.clock, nextReadyAt);
  }

  cancel(id: QueueJobId, outcome: CancelOutcome): Promise<CancelResult> {
    const now = () => this.#options.clock.now();
    return this.#db.write(
      `cancel queue job ${id}`,
      (query) => cancelQueueJob(query, id, jobKey(id), outcome, now()),
      {
        atomic: true,
      },
    );
  }

  claimOrWait(request: ClaimRequest, signal: AbortSignal): Promise<Lease[]> {
    const limit = claimLimit(request);
    // Nothing to hand off to: it waits as a claim that found nothing would.
    if (limit === 0 || signal.aborted) return claimThenWait(this, request, signal);
    return claimOrWait(this.#handOffs, { ...request, limit }, signal);
  }

  async getJob(id: QueueJobId): Promise<QueueJob | undefined> {
    return (await this.getJobs([id]))[0];
  }

  getJobs(ids: readonly QueueJobId[], options: GetJobsOptions = {}): Promise<QueueJob[]> {
    const keys = ids.filter(isJobKey);
    if (keys.length === 0) return Promise.resolve([]);
    const what = keys.length === 1 ? `read queue job ${keys[0]}` : `read ${keys.length} queue jobs`;
    return this.#db.read(what, async (query) => {
      const finishedOnly = options.finishedOnly === true;
      const { rows } = await query<Row>(statements.getMany, [integerArrayLiteral(keys), finishedOnly]);
      return rows.map(queueJobFromRow);
    });
  }

  staleWrites(jobId?: QueueJobId): Promise<StaleWrite[]> {
    return this.#db.read('list stale queue writes', async (query) => {
      if (jobId !== undefined && jobKey(jobId) === undefined) return [];
      const { rows } = await query<{ job_id: string; token: string; action: string; at: string }>(
        statements.staleWrites,
        [jobId ?? null],
      );
      return rows.map((row) => ({
        jobId: asQueueJobId(row.job_id),
        token: Number(row.token),
        action: staleAction(row.action),
        at: Number(row.at),
      }));
    });
  }

  /**
   * `visibleFirst`: the enqueue commits on its own and, having no idempotency key, cannot answer
   * another submitter's lookup. It then commits without waiting for the WAL flush, so a waiting
   * claimer sees the jobs one flush sooner (add → start across processes waited for two flushes in a
   * row), and is acknowledged only after flushEnqueued has committed. A reader may see jobs that a server
   * crash before the flush then loses, as it may see any write whose acknowledgement the crash cut
   * off; their submitter was not answered. The jobs it hands to waiting workers in the same commit
   * (queue-hand-off.ts) may start before the flush: a server crash can then lose a lease whose job
   * has started, which runs again (at least once), under a token the lost lease never had
   * (queue-hand-off-migration.ts). A claim commits synchronously, so its flush is the enqueue's too.
   */
  async #enqueueNow(
    query: Query,
    jobs: readonly NewQueueJob[],
    visibleFirst: boolean,
  ): Promise<EnqueueResult[]> {
    const { clock, agingIntervalMs, idempotencyWindowMs, capacity } = this.#options;
    const now = clock.now();
    const inserts = jobs.map((job, i) => toQueueInsert(job, i, now, agingIntervalMs));
    if (inserts.length === 0) return [];
    const keys = [...new Set(inserts.flatMap((insert) => insert.idempotencyKey ?? []))];
    const existing = new Map<string, QueueJob>();
    if (keys.length > 0) {
      await query(statements.lockSubmissions, []);
      const { rows } = await query<Row>(statements.byIdempotencyKey, [keys, now - idempotencyWindowMs]);
      for (const row of rows)
        if (row.idempotency_key !== null) existing.set(row.idempotency_key, queueJobFromRow(row));
    }
    // The first job with a new key is inserted; later ones in the batch resolve to it.
    const firstOfKey = new Set<string>();
    const fresh: QueueInsert[] = inserts.filter((insert) => {
      const key = insert.idempotencyKey;
      if (key === null) return true;
      if (existing.has(key) || firstOfKey.has(key)) return false;
      firstOfKey.add(key);
      return true;
    });
    const statement = visibleFirst ? statements.enqueueVisibleFirst : statements.enqueue;
    const { rows } = await query<{ seqs: string | null; queued: number | null }>(statement, [
      fresh.length,
      // One JSON array of the payloads, already JSON each: as a json[] parameter, pg escaped every
      // payload's quotes into an array literal, ~0.7 ms per 1,000 small payloads here, against 0.05.
      `[${fresh.map((i) => i.payload).join(',')}]`,
      textArrayLiteral(sameOrAll(fresh.map((i) => i.task))),
      textArrayLiteral(sameOrAll(fresh.map((i) => i.priority))),
      integerArrayLiteral(sameOrAll(fresh.map((i) => i.queueKey))),
      integerArrayLiteral(sameOrAll(fresh.map((i) => i.notBefore))),
      integerArrayLiteral(sameOrAll(fresh.map((i) => i.maxAttempts))),
      textArrayLiteral(sameOrAll(fresh.map((i) => i.onLeaseExpiry))),
      textArrayLiteral(sameOrAll(fresh.map((i) => i.idempotencyKey))),
      now,
      capacity,
    ]);
    const seqs = rows[0]?.seqs ?? null;
    const queued = rows[0]?.queued ?? null;
    if (seqs === null && queued !== null) throw queueFullError(queued, capacity, fresh.length);
    // A bigint[] literal of plain decimals, in id order, which is the batch's order.
    const ids = seqs === null ? [] : seqs.slice(1, -1).split(',');
    if (ids.length !== fresh.length)
      throw new Error(`${ids.length} ids came back for ${fresh.length} new jobs`);
    // No job left out for its key: the results are the new jobs, in order, with no lookup per job.
    if (fresh.length === inserts.length)
      return fresh.map(
        (insert, i): EnqueueResult => ({ kind: 'created', job: enqueuedJob(insert, ids[i] ?? '') }),
      );
    const created = new Map<QueueInsert, QueueJob>();
    fresh.forEach((insert, i) => {
      const job = enqueuedJob(insert, ids[i] ?? '');
      created.set(insert, job);
      if (insert.idempotencyKey !== null) existing.set(insert.idempotencyKey, job);
    });
    return inserts.map((insert): EnqueueResult => {
      const job = created.get(insert);
      if (job !== undefined) return { kind: 'created', job };
      const key = insert.idempotencyKey;
      const first = key === null ? undefined : existing.get(key);
      if (first === undefined) throw new Error('an idempotent submission lost its job');
      return { kind: 'existing', job: first };
    });
  }
}

function leaseFromRow(row: LeaseRow, expiresAt: number): Lease {
  return {
    jobId: asQueueJobId(row.seq),
    token: Number(row.lease_token),
    worker: row.lease_worker,
    expiresAt,
    task: row.task,
    payload: row.payload,
    attempt: row.attempts,
  };
}
