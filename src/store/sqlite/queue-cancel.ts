import type Database from 'better-sqlite3';
import type { CancelOutcome, CancelResult, QueueJobId } from '../queue.js';

/**
 * QueueStore.cancel's work, run inside one of the store's write transactions: the job's state read
 * and changed in it, so no claim or completion comes between. Prepared per call: cancels are rare.
 */
export function cancelQueueJob(
  db: Database.Database,
  jobId: QueueJobId,
  outcome: CancelOutcome,
  now: number,
): CancelResult {
  const seq = /^[1-9][0-9]*$/.test(jobId) ? Number(jobId) : undefined;
  const state =
    seq === undefined
      ? undefined
      : db.prepare<[number], string>('SELECT state FROM queue_jobs WHERE seq = ?').pluck().get(seq);
  if (state === undefined) return { kind: 'missing', jobId };
  if (state !== 'queued' && state !== 'leased') return { kind: 'finished', jobId };
  db.prepare<[string, number, number]>(
    `UPDATE queue_jobs SET state = 'failed', outcome = ?, finished_at = ?, lease_worker = NULL,
       lease_expires_at = NULL
     WHERE seq = ?`,
  ).run(JSON.stringify({ kind: 'failed', ...outcome }), now, seq as number);
  return { kind: 'cancelled', jobId, was: state };
}
