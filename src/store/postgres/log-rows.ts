import { ValkyrieError } from '../../core/errors.js';
import type { LogLine } from '../logs.js';
import type { RunOwner } from '../recovery.js';
import { RunTakenOverError } from '../run-fence.js';
import { integerArrayLiteral, textArrayLiteral } from './array-literal.js';
import { runIdOf, runKey } from './columns.js';
import type { Query, Statement, WriteTurn } from './database.js';
import { pgCode, sqlState, violatingKey } from './errors.js';
import { fencedStatements, ownedBy, writerValues } from './run-fence.js';

const logColumns = `run_id, job_id, step_index, stream, at, text, job_attempt, step_attempt, line_index`;
const batchOfLines = `unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::bigint[], $6::text[],
                             $7::integer[], $8::integer[], $9::integer[])
           WITH ORDINALITY AS batch (${logColumns}, ord)`;

/**
 * One statement whatever the batch size (arrays, not a VALUES row per line): all or nothing, one
 * round trip, one prepared plan, and no limit of 65,535 parameters. ORDER BY ord makes seq follow
 * the batch's order.
 */
const appendLines: Statement = {
  name: 'vk_append_logs',
  text: `INSERT INTO log_lines (${logColumns})
         SELECT ${logColumns} FROM ${batchOfLines}
         ORDER BY ord`,
};

/**
 * appendLines behind the run fence (run-fence.ts), still one statement: the runs the writer may write
 * are held (FOR SHARE) until the commit, and only the lines of another owner's runs are left out. A
 * line of a run that does not exist is not left out, so that its job's foreign key fails the batch.
 */
const appendOwnLines: Statement = {
  name: 'vk_append_logs_fenced',
  text: `WITH batch AS (SELECT * FROM ${batchOfLines}),
         held AS (SELECT r.id FROM runs r WHERE r.id IN (SELECT run_id FROM batch) AND ${ownedBy('$10', '$11')}
                  FOR SHARE)
         INSERT INTO log_lines (${logColumns})
         SELECT ${logColumns} FROM batch
         WHERE run_id IN (SELECT id FROM held) OR NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = batch.run_id)
         ORDER BY ord`,
};

/** For a LogStore.append: whose runs it may write, and the transaction's runs held already. */
export interface LineFence {
  readonly writer: RunOwner;
  readonly turn: WriteTurn;
}

/** Postgres text cannot hold NUL; a program that prints one still gets the rest of its line stored. */
const nul = /\0/g;
const replacement = '\uFFFD';

/**
 * Inserts log_lines rows in the order given, for LogStore.append and for the lines RunStore.updateJobs
 * writes with its job updates (which holds their runs already). VK_RUN_NOT_FOUND or VK_JOB_NOT_FOUND
 * for a line of no known job. With a `fence`, the lines of runs another owner holds are left out and
 * the call rejects with RunTakenOverError once the others are in. The columns go as array literals
 * (array-literal.ts), not through node-postgres's serializer.
 */
export async function insertLogRows(
  query: Query,
  lines: readonly LogLine[],
  fence?: LineFence,
): Promise<void> {
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
  const values = [
    integerArrayLiteral(runKeys),
    textArrayLiteral(jobIds),
    integerArrayLiteral(stepIndexes),
    textArrayLiteral(streams),
    integerArrayLiteral(ats),
    textArrayLiteral(texts),
    integerArrayLiteral(jobAttempts),
    integerArrayLiteral(stepAttempts),
    integerArrayLiteral(lineIndexes),
  ];
  const runs =
    fence === undefined ? [] : [...new Set(runKeys)].filter((key) => !fence.turn.heldRuns.has(key));
  try {
    if (fence === undefined || runs.length === 0) {
      await query(appendLines, values);
      return;
    }
    const { rowCount } = await query(appendOwnLines, [...values, ...writerValues(fence.writer)]);
    if (rowCount === count) {
      if (!fence.turn.autocommit) for (const key of runs) fence.turn.heldRuns.add(key);
      return;
    }
  } catch (error) {
    if (pgCode(error) !== sqlState.foreignKeyViolation) throw error;
    const jobId = violatingKey(error) ?? '?';
    throw new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${jobId}`, { cause: error });
  }
  // Lines were left out: of runs that exist (a missing one fails the batch) and that the writer does
  // not hold, as the fenced lookup of the same runs tells (holding those it may write, as the INSERT did).
  const { rows } = await query<{ id: string }>(fencedStatements.lockRuns, [
    integerArrayLiteral(runs),
    ...writerValues(fence.writer),
  ]);
  const held = new Set(rows.map((row) => String(row.id)));
  throw new RunTakenOverError(runs.filter((key) => !held.has(key)).map(runIdOf));
}
