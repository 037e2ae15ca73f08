import type Database from 'better-sqlite3';
import { asQueueJobId, type ClaimRequest, claimLimit, type Lease } from '../queue.js';

/** A job a claim may take now (the first parameter is now); SqliteQueueStore adds a task filter. */
export const ready = "state = 'queued' AND (not_before IS NULL OR not_before <= ?)";
/**
 * A bare parameter as LIMIT makes SQLite plan with its value, so the statement is prepared again on
 * every run (~20 µs, more than the claim's own work); an expression is planned once.
 */
const limitParam = '? + 0';

/**
 * A ready job as a claim reads it, before the claim's update: seq, task, payload, attempts, lease
 * token. Read as an array (better-sqlite3's raw mode): building an object per row, with a property
 * set by name per column, cost more than the row's read itself.
 */
export type ReadyRow = [seq: number, task: string, payload: string, attempts: number, leaseToken: number];

export const leaseColumns = `state = 'leased', attempts = attempts + 1, lease_token = lease_token + 1,
  lease_worker = ?, lease_expires_at = ?`;

/**
 * A claim reads the first ready jobs (`where`: ready, and of the given tasks when filtered) in queue
 * order, then leases them. Reading and then updating without RETURNING costs a third less than one
 * UPDATE … RETURNING, whose rows SQLite collects apart and hands back out of order. Up to `fewJobs`
 * are leased by key; more by one UPDATE over their id range when the ids are consecutive (the store's
 * own statement), else by one UPDATE that selects them again, the same rows, since nothing else
 * writes inside the transaction: it holds SQLite's only write lock.
 */
export interface ClaimStatements {
  readonly readyJobs: Database.Statement<unknown[], ReadyRow>;
  readonly leaseReady: Database.Statement<unknown[]>;
}
/** By measurement: the UPDATE … WHERE seq IN (SELECT …) costs more than a few updates by key. */
export const fewJobs = 8;

export function claimStatements(db: Database.Database, where: string): ClaimStatements {
  const first = `FROM queue_jobs WHERE ${where} ORDER BY queue_key, seq LIMIT ${limitParam}`;
  return {
    readyJobs: db
      .prepare<unknown[], ReadyRow>(`SELECT seq, task, payload, attempts, lease_token ${first}`)
      .raw(true),
    leaseReady: db.prepare(`UPDATE queue_jobs SET ${leaseColumns} WHERE seq IN (SELECT seq ${first})`),
  };
}

/** Whether the rows' ids ascend by one (a FIFO claim of jobs enqueued together, the common case). */
export function consecutiveIds(rows: readonly ReadyRow[]): boolean {
  const first = rows[0]?.[0] ?? 0;
  for (let i = 1; i < rows.length; i++) if (rows[i]?.[0] !== first + i) return false;
  return true;
}

/** The lease a claim granted on a row read just before its update. */
export function claimedLease(
  [seq, task, payload, attempts, leaseToken]: ReadyRow,
  worker: string,
  expiresAt: number,
): Lease {
  return {
    jobId: asQueueJobId(String(seq)),
    token: leaseToken + 1,
    worker,
    expiresAt,
    task,
    payload: JSON.parse(payload),
    attempt: attempts + 1,
  };
}

/** What a new job tells of whether a claim may take it: submitted (NewQueueJob) or validated (QueueInsert). */
interface NewJobFields {
  readonly task: string;
  readonly idempotencyKey?: string | null;
  readonly notBefore?: number | null;
}

/**
 * Whether a claim by `request` right after these jobs' enqueue would take all of them, as far as the
 * jobs alone tell: no more than its limit, each ready at `now`, of a task it claims, and without an
 * idempotency key (a keyed job may resolve to an existing one). The store checks the rest: that no
 * other job is ready, and the capacity.
 */
export function takesAllOf(jobs: readonly NewJobFields[], request: ClaimRequest, now: number): boolean {
  if (jobs.length === 0 || jobs.length > claimLimit(request)) return false;
  const tasks = request.tasks;
  for (const job of jobs) {
    if (job.idempotencyKey != null || (job.notBefore != null && job.notBefore > now)) return false;
    if (tasks !== undefined && !tasks.includes(job.task)) return false;
  }
  return true;
}

/** A leased job's row as a renew returns it. */
export interface LeaseRow {
  seq: number;
  task: string;
  payload: string;
  attempts: number;
  lease_token: number;
  queue_key: number;
}

/** A lease read back from its row (renew). */
export function leaseFromRow(row: Omit<LeaseRow, 'queue_key'>, worker: string, expiresAt: number): Lease {
  return {
    jobId: asQueueJobId(String(row.seq)),
    token: row.lease_token,
    worker,
    expiresAt,
    task: row.task,
    payload: JSON.parse(row.payload),
    attempt: row.attempts,
  };
}
