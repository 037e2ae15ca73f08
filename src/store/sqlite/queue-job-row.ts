import type { QueueJob } from '../queue.js';
import { type QueueRow, queueJobFromRow } from '../queue-rows.js';

/** A queue job's row as SQLite returns it: payload and outcome still JSON text. */
export type QueueJobRow = Omit<QueueRow<number>, 'payload' | 'outcome'> & {
  payload: string;
  outcome: string | null;
};

/** The job a row holds, its payload and outcome parsed. */
export function jobFromRow(row: QueueJobRow): QueueJob {
  return queueJobFromRow({
    ...row,
    payload: JSON.parse(row.payload),
    outcome: row.outcome === null ? null : JSON.parse(row.outcome),
  });
}
