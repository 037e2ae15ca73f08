import type { CancelOutcome, CancelResult, QueueJobId } from '../queue.js';
import type { Query, Statement } from './database.js';

const statements = {
  lockState: { name: 'vk_queue_cancel_lock', text: 'SELECT state FROM queue_jobs WHERE seq = $1 FOR UPDATE' },
  cancel: {
    name: 'vk_queue_cancel',
    text: `UPDATE queue_jobs SET state = 'failed', outcome = $2::json, finished_at = $3, lease_worker = NULL,
             lease_expires_at = NULL
           WHERE seq = $1`,
  },
  // A queued job leaves the queued count (schema-migrations.ts, queue_counts), as a claim's would.
  uncount: {
    name: 'vk_queue_cancel_uncount',
    text: 'UPDATE queue_counts SET queued = queued - 1 WHERE slot = pg_backend_pid() % 16',
  },
} satisfies Record<string, Statement>;

/**
 * QueueStore.cancel's work in one transaction: the row is locked while its state is read, so no
 * claim or completion comes between the read and the change.
 */
export async function cancelQueueJob(
  query: Query,
  jobId: QueueJobId,
  key: string | undefined,
  outcome: CancelOutcome,
  now: number,
): Promise<CancelResult> {
  if (key === undefined) return { kind: 'missing', jobId };
  const { rows } = await query<{ state: string }>(statements.lockState, [key]);
  const state = rows[0]?.state;
  if (state === undefined) return { kind: 'missing', jobId };
  if (state !== 'queued' && state !== 'leased') return { kind: 'finished', jobId };
  await query(statements.cancel, [key, JSON.stringify({ kind: 'failed', ...outcome }), now]);
  if (state === 'queued') await query(statements.uncount, []);
  return { kind: 'cancelled', jobId, was: state };
}
