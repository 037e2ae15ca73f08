import { ValkyrieError } from '../../core/errors.js';
import type { LogLine } from '../logs.js';
import { integerArrayLiteral, textArrayLiteral } from './array-literal.js';
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
  text: `INSERT INTO log_lines (run_id, job_id, step_index, stream, at, text, job_attempt, step_attempt,
                                line_index)
         SELECT run_id, job_id, step_index, stream, at, text, job_attempt, step_attempt, line_index
         FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::bigint[], $6::text[],
                     $7::integer[], $8::integer[], $9::integer[])
           WITH ORDINALITY AS batch (run_id, job_id, step_index, stream, at, text, job_attempt,
                                     step_attempt, line_index, ord)
         ORDER BY ord`,
};

/** Postgres text cannot hold NUL; a program that prints one still gets the rest of its line stored. */
const nul = /\0/g;
const replacement = '\uFFFD';

/**
 * Inserts log_lines rows in the order given, for LogStore.append and for the lines RunStore.updateJobs
 * writes with its job updates. VK_RUN_NOT_FOUND or VK_JOB_NOT_FOUND for a line of no known job. The
 * columns go as array literals (array-literal.ts), not through node-postgres's serializer.
 */
export async function insertLogRows(query: Query, lines: readonly LogLine[]): Promise<void> {
  const count = lines.length;
  if (count === 0) return;
  const runKeys = new Array<string>(count);
  const jobIds = new Array<string>(count);
  const stepIndexes = new Array<number>(count);
  const streams = new Array<string>(count);
  const ats = new Array<number>(count);
  const texts = new Array<string>(count);
  const jobAttempts = new Array<number>(count);
  const stepAttempts = new Array<number>(count);
  const lineIndexes = new Array<number | null>(count);
  let i = 0;
  for (const line of lines) {
    const key = runKey(line.runId);
    if (key === undefined) throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${line.runId}`);
    runKeys[i] = key;
    jobIds[i] = line.jobId;
    stepIndexes[i] = line.stepIndex;
    streams[i] = line.stream;
    ats[i] = line.at;
    texts[i] = line.text.includes('\0') ? line.text.replace(nul, replacement) : line.text;
    jobAttempts[i] = line.jobAttempt ?? 1;
    stepAttempts[i] = line.attempt ?? 1;
    lineIndexes[i] = line.lineIndex ?? null;
    i++;
  }
  try {
    await query(appendLines, [
      integerArrayLiteral(runKeys),
      textArrayLiteral(jobIds),
      integerArrayLiteral(stepIndexes),
      textArrayLiteral(streams),
      integerArrayLiteral(ats),
      textArrayLiteral(texts),
      integerArrayLiteral(jobAttempts),
      integerArrayLiteral(stepAttempts),
      integerArrayLiteral(lineIndexes),
    ]);
  } catch (error) {
    if (pgCode(error) !== sqlState.foreignKeyViolation) throw error;
    const jobId = violatingKey(error) ?? '?';
    throw new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${jobId}`, { cause: error });
  }
}
