import { asRunId, type RunId } from '../../core/ids.js';

/** Records are built field by field so that NULL columns come back absent, not as `null`. */
export type Writable<T> = { -readonly [K in keyof T]: T[K] };

const maxBigint = 2n ** 63n - 1n;

/**
 * The runs table's key for a run id, or undefined when the string is not one this store issued. Ids are
 * canonical decimal identity values; anything else (`07`, `abc`, past bigint) would make Postgres reject
 * the whole statement with a cast error instead of simply matching nothing.
 */
export function runKey(id: RunId): string | undefined {
  if (!/^[1-9][0-9]{0,18}$/.test(id)) return undefined;
  return BigInt(id) <= maxBigint ? id : undefined;
}

/** node-postgres returns bigint columns as strings, which is exactly a run id's form. */
export function runIdOf(key: string): RunId {
  return asRunId(key);
}

/** Epoch-millisecond columns are bigint (strings from the driver); they stay far below 2^53. */
export function millis(value: string): number {
  return Number(value);
}

/** What recording a step or a job attempt that is stored already changes: every write is its latest state. */
export const stepUpsert = `ON CONFLICT (job_id, job_attempt, idx, attempt) DO UPDATE SET name = excluded.name,
  outcome = excluded.outcome, conclusion = excluded.conclusion, exit_code = excluded.exit_code,
  started_at = excluded.started_at, finished_at = excluded.finished_at, retry_delay_ms = excluded.retry_delay_ms,
  timed_out_after_ms = excluded.timed_out_after_ms, max_attempts = excluded.max_attempts`;
export const jobAttemptUpsert = `ON CONFLICT (job_id, attempt) DO UPDATE SET status = excluded.status,
  started_at = excluded.started_at, finished_at = excluded.finished_at, reason = excluded.reason,
  retry_delay_ms = excluded.retry_delay_ms, retry_reason = excluded.retry_reason, runner = excluded.runner,
  fencing_token = excluded.fencing_token`;
