import type Database from 'better-sqlite3';
import { priorityLevelSql, queueJobColumns } from '../queue-rows.js';
import { type LeaseRow, leaseColumns } from './queue-claims.js';
import type { QueueJobRow as Row } from './queue-job-row.js';

type StaleWriteRow = { job_id: number; token: number; action: string; at: number };
type ExpiredRow = { seq: number; state: 'queued' | 'failed'; lease_token: number };

/** The SQLite queue store's prepared statements besides its claims (queue-claims.ts) and batch writes. */
export interface QueueStatements {
  readonly byIdempotencyKey: Database.Statement<[string, number], Row>;
  readonly countQueued: Database.Statement<[], number>;
  readonly getMany: Database.Statement<[string, number], Row>;
  readonly leaseOne: Database.Statement<[string, number, number]>;
  readonly leaseRange: Database.Statement<[string, number, number, number]>;
  readonly release: Database.Statement<[number | null, number, number, number, number, number, number]>;
  readonly renew: Database.Statement<[number, number, number], LeaseRow & { lease_worker: string }>;
  readonly complete: Database.Statement<[string, string | null, number, number, number]>;
  readonly recordStale: Database.Statement<[number, number, string, number]>;
  readonly expire: Database.Statement<[{ now: number }], ExpiredRow>;
  readonly nextReadyAt: Database.Statement<[], number | null>;
  readonly staleWrites: Database.Statement<[number, number], StaleWriteRow>;
}

export function queueStatements(db: Database.Database): QueueStatements {
  return {
    byIdempotencyKey: db.prepare<[string, number], Row>(
      `SELECT ${queueJobColumns} FROM queue_jobs WHERE idempotency_key = ? AND created_at >= ?
       ORDER BY seq DESC LIMIT 1`,
    ),
    // Counted, not kept as a running total: a counter row is one more page written by every commit
    // that moves jobs in or out of `queued`, ~15 µs each, which cost a single-job enqueue, claim and
    // completion 198 → 231 µs of CPU; counting reads ~30 ns per queued job (1.5 ms at 50,000).
    countQueued: db.prepare<[], number>("SELECT count(*) FROM queue_jobs WHERE state = 'queued'").pluck(),
    getMany: db.prepare<[string, number], Row>(
      `SELECT ${queueJobColumns} FROM queue_jobs WHERE seq IN (SELECT value FROM json_each(?))
         AND (? = 0 OR state IN ('succeeded', 'failed')) ORDER BY seq`,
    ),
    leaseOne: db.prepare<[string, number, number]>(`UPDATE queue_jobs SET ${leaseColumns} WHERE seq = ?`),
    leaseRange: db.prepare<[string, number, number, number]>(
      `UPDATE queue_jobs SET ${leaseColumns} WHERE seq BETWEEN ? AND ?`,
    ),
    // Ranked as if enqueued at max(now, notBefore): the queue key of core/priority.ts, in SQL.
    // Release.uncounted: 1 takes back its attempt (not begun), or raises the bound (forgiven); else 0.
    release: db.prepare<[number | null, number, number, number, number, number, number]>(
      `UPDATE queue_jobs SET state = 'queued', not_before = ?,
         queue_key = ? + ${priorityLevelSql} * ?,
         attempts = max(attempts - ?, 0), max_attempts = max_attempts + ?,
         lease_worker = NULL, lease_expires_at = NULL
       WHERE seq = ? AND lease_token = ? AND state = 'leased'`,
    ),
    renew: db.prepare<[number, number, number], LeaseRow & { lease_worker: string }>(
      `UPDATE queue_jobs SET lease_expires_at = ? WHERE seq = ? AND lease_token = ? AND state = 'leased'
       RETURNING seq, task, payload, attempts, lease_token, queue_key, lease_worker`,
    ),
    complete: db.prepare<[string, string | null, number, number, number]>(
      `UPDATE queue_jobs SET state = ?, outcome = ?, finished_at = ?, lease_worker = NULL,
         lease_expires_at = NULL
       WHERE seq = ? AND lease_token = ? AND state = 'leased'`,
    ),
    recordStale: db.prepare<[number, number, string, number]>(
      'INSERT INTO queue_stale_writes (job_id, token, action, at) VALUES (?, ?, ?, ?)',
    ),
    expire: db.prepare<[{ now: number }], ExpiredRow>(
      `UPDATE queue_jobs SET
         state = CASE WHEN on_lease_expiry = 'fail' OR attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
         outcome = CASE WHEN on_lease_expiry = 'fail' OR attempts >= max_attempts
           THEN json_object('kind', 'runner_lost', 'attempts', attempts) END,
         finished_at = CASE WHEN on_lease_expiry = 'fail' OR attempts >= max_attempts THEN @now END,
         lease_worker = NULL, lease_expires_at = NULL
       WHERE state = 'leased' AND lease_expires_at <= @now
       RETURNING seq, state, lease_token`,
    ),
    nextReadyAt: db
      .prepare<[], number | null>(
        "SELECT min(coalesce(not_before, 0)) FROM queue_jobs WHERE state = 'queued'",
      )
      .pluck(),
    staleWrites: db.prepare<[number, number], StaleWriteRow>(
      'SELECT job_id, token, action, at FROM queue_stale_writes WHERE ? = 0 OR job_id = ? ORDER BY seq',
    ),
  };
}
