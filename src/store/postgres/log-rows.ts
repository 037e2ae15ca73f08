import { ValkyrieError } from '../../core/errors.js';
import type { LogLine } from '../logs.js';
import { runKey } from './columns.js';
import type { Query, Statement } from './database.js';
import { pgCode, sqlState, violatingKey } from './errors.js';

/**
 * One statement whatever the batch size (arrays, not a VALUES row per line): all or nothing, one
 * round trip, one prepared plan, and no limit of 65,535 parameters. ORDER BY ord makes seq follow
 * the batch's order.
 */
const appendLines: Statement = {
  name: 'vk_append_logs',
  text: `INSERT INTO log_lines (run_id, job_id, step_index, stream, at, text, job_attempt, step_attempt)
         SELECT run_id, job_id, step_index, stream, at, text, job_attempt, step_attempt
         FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::bigint[], $6::text[],
                     $7::integer[], $8::integer[])
           WITH ORDINALITY AS batch (run_id, job_id, step_index, stream, at, text, job_attempt,
                                     step_attempt, ord)
         ORDER BY ord`,
};

/** Postgres text cannot hold NUL; a program that prints one still gets the rest of its line stored. */
const nul = /\0/g;
const replacement = '\uFFFD';

/**
 * Inserts log_lines rows in the order given, for LogStore.append and for the lines RunStore.updateJobs
 * writes with its job updates. VK_RUN_NOT_FOUND or VK_JOB_NOT_FOUND for a line of no known job.
 */
export async function insertLogRows(query: Query, lines: readonly LogLine[]): Promise<void> {
  if (lines.length === 0) return;
  const runKeys = lines.map((line) => {
    const key = runKey(line.runId);
    if (key === undefined) throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${line.runId}`);
    return key;
  });
  try {
    await query(appendLines, [
      runKeys,
      lines.map((line) => line.jobId),
      lines.map((line) => line.stepIndex),
      lines.map((line) => line.stream),
      lines.map((line) => line.at),
      lines.map((line) => (line.text.includes('\0') ? line.text.replace(nul, replacement) : line.text)),
      lines.map((line) => line.jobAttempt ?? 1),
      lines.map((line) => line.attempt ?? 1),
    ]);
  } catch (error) {
    if (pgCode(error) !== sqlState.foreignKeyViolation) throw error;
    const jobId = violatingKey(error) ?? '?';
    throw new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${jobId}`, { cause: error });
  }
}
