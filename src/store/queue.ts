import { type Clock as FullClock, systemClock } from '../core/clock.js';
import type { Brand } from '../core/ids.js';
import type { Priority } from '../core/priority.js';

/** A queued job's id: the decimal form of its insertion sequence number. */
export type QueueJobId = Brand<string, 'QueueJobId'>;
export const asQueueJobId = (value: string): QueueJobId => value as QueueJobId;

/** What happens to a job whose lease expires: queued again (the default), or failed as `runner_lost`. */
export type LeaseExpiryPolicy = 'requeue' | 'fail';

export interface NewQueueJob {
  readonly task: string;
  /** Any JSON value; stored as text and returned parsed. */
  readonly payload: unknown;
  /** `JSON.stringify(payload)`, when the submitter made it already (to learn whether JSON can hold it). */
  readonly payloadJson?: string;
  /** Default `normal`. */
  readonly priority?: Priority;
  /** Not claimed before this time (epoch ms); aging starts then. */
  readonly notBefore?: number;
  /** A second submission with this key within the idempotency window returns the first job. */
  readonly idempotencyKey?: string;
  /** Default `requeue`. */
  readonly onLeaseExpiry?: LeaseExpiryPolicy;
  /**
   * Leases granted at most this often (more by one per lease released `forgiven`, Release.uncounted);
   * an expiry past it fails the job. Default 25.
   */
  readonly maxAttempts?: number;
}

export type QueueJobState = 'queued' | 'leased' | 'succeeded' | 'failed';

/** How a job ended: data the caller chose, or the store's own verdict on a lost lease. */
export type QueueOutcome =
  | { readonly kind: 'succeeded'; readonly result?: unknown }
  | {
      readonly kind: 'failed';
      readonly error: string;
      /** Any JSON value the caller keeps with the failure (the library stores its task outcome). */
      readonly detail?: unknown;
    }
  | { readonly kind: 'runner_lost'; readonly attempts: number };

export interface QueueJob {
  readonly id: QueueJobId;
  readonly task: string;
  readonly payload: unknown;
  readonly priority: Priority;
  readonly state: QueueJobState;
  /** Leases granted so far, less those released `not_begun` (`Release.uncounted`). */
  readonly attempts: number;
  readonly createdAt: number;
  readonly notBefore?: number;
  readonly idempotencyKey?: string;
  readonly outcome?: QueueOutcome;
}

export type EnqueueResult =
  | { readonly kind: 'created'; readonly job: QueueJob }
  /** The idempotency key matched a job submitted within the window; nothing was written. */
  | { readonly kind: 'existing'; readonly job: QueueJob };

/** What `enqueueAndClaim` returns: `enqueue`'s results, then `claim`'s leases. */
export interface EnqueuedAndClaimed {
  readonly enqueued: EnqueueResult[];
  readonly leases: Lease[];
}

/** A job and the right to work on it until `expiresAt`; `token` fences every write made under it. */
export interface Lease {
  readonly jobId: QueueJobId;
  readonly token: number;
  readonly worker: string;
  readonly expiresAt: number;
  readonly task: string;
  /**
   * May be a getter that parses on first read (the SQLite store's claims): read it as a property;
   * a spread or a structured copy of the lease need not carry it.
   */
  readonly payload: unknown;
  readonly attempt: number;
}

/** The part of a lease a write must carry. */
export type LeaseRef = Pick<Lease, 'jobId' | 'token'>;

export interface Completion {
  readonly lease: LeaseRef;
  readonly outcome: Extract<QueueOutcome, { kind: 'succeeded' | 'failed' }>;
  /**
   * `JSON.stringify(outcome)`, when the caller has made it already (checking that the outcome can be
   * stored): the store writes this text instead of encoding the outcome a second time.
   */
  readonly outcomeJson?: string;
}

export type CompletionResult =
  | { readonly kind: 'completed'; readonly jobId: QueueJobId }
  /** The token was not the job's current one (the lease expired and the job moved on); recorded. */
  | { readonly kind: 'stale'; readonly jobId: QueueJobId; readonly token: number };

/** Why a released lease's attempt is not counted (`Release.uncounted`). */
export type UncountedAttempt = 'not_begun' | 'forgiven';

/** A leased job given back to the queue unfinished, e.g. for a retry after a delay. */
export interface Release {
  readonly lease: LeaseRef;
  /** Not claimed again before this time (epoch ms), and aged from then; ready at once when omitted. */
  readonly notBefore?: number;
  /**
   * The lease's attempt does not count against `maxAttempts`; counted when omitted.
   * - `not_begun`: its holder never began it (an engine closing gives back the jobs it had not
   *   started): the job's attempts go back by one, and its next lease carries the same number again.
   * - `forgiven`: it ran, and its holder forgave it (the library's suspect, a job lost with a thread
   *   beside others): the job's attempts keep it, and its bound grows by one instead.
   */
  readonly uncounted?: UncountedAttempt;
}

export type ReleaseResult =
  | { readonly kind: 'released'; readonly jobId: QueueJobId }
  /** The token was not the job's current one; nothing changed, and the refusal was recorded. */
  | { readonly kind: 'stale'; readonly jobId: QueueJobId; readonly token: number };

/** What `cancel` records: the job ends `failed` with this outcome (the library's detail says cancelled). */
export type CancelOutcome = Omit<Extract<QueueOutcome, { kind: 'failed' }>, 'kind'>;

export type CancelResult =
  /** This call ended the job; `was` is the state it ended from. */
  | { readonly kind: 'cancelled'; readonly jobId: QueueJobId; readonly was: 'queued' | 'leased' }
  /** The job had ended already; nothing changed. */
  | { readonly kind: 'finished'; readonly jobId: QueueJobId }
  | { readonly kind: 'missing'; readonly jobId: QueueJobId };

export interface GetJobsOptions {
  readonly finishedOnly?: boolean;
}

export interface ClaimRequest {
  readonly worker: string;
  /** A whole number from 0 to 2^31 - 1; any other is refused with VK_USAGE, nothing leased. */
  readonly limit: number;
  /** A whole number of milliseconds from 1 to 2^31 - 1; any other is refused with VK_USAGE, nothing leased. */
  readonly ttlMs: number;
  /** Only jobs of these tasks (an engine claims what it can run); every task when omitted. */
  readonly tasks?: readonly string[];
}

export type ExpiredLease =
  | { readonly kind: 'requeued'; readonly jobId: QueueJobId; readonly token: number }
  | { readonly kind: 'failed'; readonly jobId: QueueJobId; readonly token: number };

/** A write refused for carrying a stale fencing token, kept for operators and tests. */
export interface StaleWrite {
  readonly jobId: QueueJobId;
  readonly token: number;
  readonly action: 'renew' | 'complete' | 'release';
  readonly at: number;
}

/** Where time comes from (only its reading: the queue sets no timers); tests pass a clock they move by hand. */
export type Clock = Pick<FullClock, 'now'>;

/** Queue settings: one input type (all optional), resolved against `queueDefaults`. */
export interface QueueOptions {
  /** Jobs in state `queued` (leased ones do not count) above which a submission is refused. */
  readonly capacity?: number;
  readonly agingIntervalMs?: number;
  readonly idempotencyWindowMs?: number;
  readonly clock?: Clock;
  /** SQLite only: how often `waitForWork` looks for jobs enqueued by other processes. */
  readonly pollIntervalMs?: number;
}

export type ResolvedQueueOptions = Required<QueueOptions>;

export const queueDefaults: ResolvedQueueOptions = Object.freeze({
  capacity: 10_000,
  agingIntervalMs: 60_000,
  idempotencyWindowMs: 24 * 60 * 60 * 1000,
  clock: systemClock,
  pollIntervalMs: 1000,
});

export const defaultMaxAttempts = 25;

/**
 * The durable job queue and its leases. Lifecycle of a job:
 *
 *   enqueue → queued ─claim→ leased ─complete→ succeeded | failed
 *                ↑             │ renew (same token, later expiry)
 *                ├─ release (optionally not before a time) ─┤
 *                └─ expireLeases (policy `requeue`) ─┘ or → failed (`runner_lost`)
 *   queued | leased ─cancel→ failed (the lease, if any, is stale from then)
 *
 * - Every method may be called concurrently, from several processes sharing the store. Each write is
 *   durable when its promise resolves (group commits batch many writes per transaction, but never
 *   acknowledge one before its commit).
 * - `claim` hands out ready jobs in queue order — `core/priority.ts` `queueKey` (priority with aging),
 *   ties by insertion order — and never the same job to two claimers. Each claim increments the
 *   job's fencing token; a write under an older token is refused with VK_STALE_LEASE and recorded
 *   (`staleWrites`), so a worker that lost its lease cannot overwrite its successor's result.
 * - `renew` should be called at a third of the TTL; `expireLeases` is idempotent and may be run by any
 *   number of sweepers.
 * - Time is the clock's (`QueueOptions.clock`); nothing is time-based outside it except `waitForWork`'s
 *   own timers.
 */
export interface QueueStore {
  /**
   * Submits a batch all or nothing. Refused whole with VK_QUEUE_FULL when the new jobs would take the
   * queued count past capacity; jobs matched by idempotency key come back as `existing` and do not count.
   */
  enqueue(jobs: readonly NewQueueJob[]): Promise<EnqueueResult[]>;
  /** Leases up to `limit` ready jobs to `worker` for `ttlMs`, in queue order; [] when none is ready. */
  claim(request: ClaimRequest): Promise<Lease[]>;
  /**
   * `enqueue(jobs)` then `claim(request)` in one commit, with the results those two calls
   * made back to back would give (refused whole the same way). What it saves: a store may write new
   * jobs already leased when the claim would take exactly them (nothing else ready, all of them ready
   * and within the limit); their leases then carry the payload as submitted, as `enqueue`'s result does.
   */
  enqueueAndClaim(jobs: readonly NewQueueJob[], request: ClaimRequest): Promise<EnqueuedAndClaimed>;
  /**
   * Extends a lease to now + ttlMs (bounded as a claim's). Rejects with VK_STALE_LEASE (and records it)
   * when it was lost.
   */
  renew(lease: LeaseRef, ttlMs: number): Promise<Lease>;
  /**
   * Settles leased jobs in one commit; a stale token is recorded and reported per completion. A batch
   * with an outcome that has no JSON (a BigInt, a cycle, a function as result) is refused whole with
   * VK_USAGE naming completions[i].outcome, nothing written.
   */
  complete(completions: readonly Completion[]): Promise<CompletionResult[]>;
  /**
   * Gives leased jobs back to the queue in one commit, each ready again at its `notBefore` (a retry
   * after a delay) and ranked as if enqueued then; attempts are kept, so `maxAttempts` still bounds
   * the job, except as `uncounted` says. A stale token is recorded (action `release`) and reported
   * per release; it changes nothing, attempts included.
   */
  release(releases: readonly Release[]): Promise<ReleaseResult[]>;
  /**
   * Ends an unfinished job at once, queued (a delayed one, or one waiting for a retry, included) or
   * leased, as `failed` with `outcome`. A lease on it is lost from then: its holder's renew,
   * completion and release are refused as stale, which is how the holder learns of it.
   * Idempotent: a job that had ended is left as it was (`finished`).
   */
  cancel(id: QueueJobId, outcome: CancelOutcome): Promise<CancelResult>;
  /** Applies each expired lease's policy; returns what it did (empty when nothing had expired). */
  expireLeases(): Promise<ExpiredLease[]>;
  /**
   * Resolves when jobs may have become ready since the call (an enqueue or requeue, a delayed job's
   * time arriving) — or at once if `signal` aborts. A hint, not a promise of work: claim may find none.
   */
  waitForWork(signal: AbortSignal): Promise<void>;
  /**
   * `claim`; when it finds nothing, waits as `waitForWork` does and may lease jobs enqueued meanwhile
   * to `request.worker` without another claim (a hand-off), resolving with those. [] when it woke
   * without jobs, or when `signal` aborted: the caller claims again. A worker's one loop.
   */
  claimOrWait(request: ClaimRequest, signal: AbortSignal): Promise<Lease[]>;
  getJob(id: QueueJobId): Promise<QueueJob | undefined>;
  /**
   * The jobs of `ids` that exist, in id order, in one read: what an engine watching many jobs that
   * other processes run looks up on each turn, instead of one read per job. `finishedOnly`: only
   * those that have ended (succeeded or failed), so that a look at a backlog reads no queued rows.
   */
  getJobs(ids: readonly QueueJobId[], options?: GetJobsOptions): Promise<QueueJob[]>;
  staleWrites(jobId?: QueueJobId): Promise<StaleWrite[]>;
}

/** How many jobs a claim may lease: its limit, 0 when it may lease none (no tasks). */
export function claimLimit(request: ClaimRequest): number {
  return request.tasks?.length === 0 ? 0 : request.limit;
}

/** claimOrWait for a store that hands nothing off: a claim, then a wait when it found nothing. */
export async function claimThenWait(
  store: QueueStore,
  request: ClaimRequest,
  signal: AbortSignal,
): Promise<Lease[]> {
  const leases = await store.claim(request);
  if (leases.length === 0) await store.waitForWork(signal);
  return leases;
}
