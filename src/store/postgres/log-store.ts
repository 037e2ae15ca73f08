import { ValkyrieError } from '../../core/errors.js';
import { asJobId, type JobId, type RunId } from '../../core/ids.js';
import { defaultReadAfterLimit, type LogLine, type LogStore, withAttempts } from '../logs.js';
import { millis, runKey } from './columns.js';
import type { PostgresDatabase, Statement } from './database.js';
import { pgCode, sqlState, violatingKey } from './errors.js';

interface LogRow {
  job_id: string;
  job_attempt: number;
  step_attempt: number;
  step_index: number;
  stream: LogLine['stream'];
  at: string;
  text: string;
}

const columns = 'job_id, step_index, stream, at, text, job_attempt, step_attempt';
// The newest N of a selection, put back into append order by the outer query.
const newest = (where: string, limit: string) =>
  `SELECT ${columns} FROM (SELECT seq, ${columns} FROM log_lines WHERE ${where} ORDER BY seq DESC
   LIMIT ${limit}) AS tail ORDER BY seq`;

const statements = {
  // One statement whatever the batch size (arrays, not a VALUES row per line): all or nothing, one
  // round trip, one prepared plan, and no limit of 65,535 parameters. ORDER BY ord makes seq follow
  // the batch's order.
  append: {
    name: 'vk_append_logs',
    text: `INSERT INTO log_lines (run_id, job_id, step_index, stream, at, text, job_attempt, step_attempt)
           SELECT run_id, job_id, step_index, stream, at, text, job_attempt, step_attempt
           FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::text[], $5::bigint[], $6::text[],
                       $7::integer[], $8::integer[])
             WITH ORDINALITY AS batch (run_id, job_id, step_index, stream, at, text, job_attempt,
                                       step_attempt, ord)
           ORDER BY ord`,
  },
  runLines: {
    name: 'vk_read_run_logs',
    text: `SELECT ${columns} FROM log_lines WHERE run_id = $1 ORDER BY seq`,
  },
  runTail: { name: 'vk_tail_run_logs', text: newest('run_id = $1', '$2') },
  jobLines: {
    name: 'vk_read_job_logs',
    text: `SELECT ${columns} FROM log_lines WHERE job_id = $2 AND run_id = $1 ORDER BY seq`,
  },
  jobTail: { name: 'vk_tail_job_logs', text: newest('job_id = $2 AND run_id = $1', '$3') },
  runAfter: {
    name: 'vk_follow_run_logs',
    text: `SELECT seq, ${columns} FROM log_lines WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
  },
  jobAfter: {
    name: 'vk_follow_job_logs',
    text: `SELECT seq, ${columns} FROM log_lines WHERE job_id = $2 AND run_id = $1 AND seq > $3 ORDER BY seq LIMIT $4`,
  },
} satisfies Record<string, Statement>;

/** Postgres text cannot hold NUL; a program that prints one still gets the rest of its line stored. */
const nul = /\0/g;
const replacement = '\uFFFD';

/** LogStore on the shared pool; lines keep append order through the table's identity column. */
export class PostgresLogStore implements LogStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  append(lines: readonly LogLine[]): Promise<void> {
    return this.#db.write('append log lines', async (query) => {
      if (lines.length === 0) return;
      const runKeys = lines.map((line) => {
        const key = runKey(line.runId);
        if (key === undefined) throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${line.runId}`);
        return key;
      });
      try {
        await query(statements.append, [
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
    });
  }

  read(runId: RunId, options?: { jobId?: JobId; tail?: number }): Promise<LogLine[]> {
    return this.#db.read(`read the log of run ${runId}`, async (query) => {
      const key = runKey(runId);
      if (key === undefined) return [];
      const jobId = options?.jobId;
      const tail = options?.tail === undefined ? undefined : Math.max(0, Math.floor(options.tail));
      let rows: LogRow[];
      if (jobId === undefined) {
        rows = (
          tail === undefined
            ? await query<LogRow>(statements.runLines, [key])
            : await query<LogRow>(statements.runTail, [key, tail])
        ).rows;
      } else {
        rows = (
          tail === undefined
            ? await query<LogRow>(statements.jobLines, [key, jobId])
            : await query<LogRow>(statements.jobTail, [key, jobId, tail])
        ).rows;
      }
      return rows.map((row) => lineOf(runId, row));
    });
  }

  readAfter(
    runId: RunId,
    position: number,
    options?: { jobId?: JobId; limit?: number },
  ): Promise<{ lines: LogLine[]; position: number }> {
    return this.#db.read(`follow the log of run ${runId}`, async (query) => {
      const key = runKey(runId);
      if (key === undefined) return { lines: [], position };
      const limit = Math.max(1, Math.floor(options?.limit ?? defaultReadAfterLimit));
      const jobId = options?.jobId;
      const { rows } =
        jobId === undefined
          ? await query<LogRow & { seq: string }>(statements.runAfter, [key, position, limit])
          : await query<LogRow & { seq: string }>(statements.jobAfter, [key, jobId, position, limit]);
      const last = rows.at(-1);
      return {
        lines: rows.map((row) => lineOf(runId, row)),
        position: last === undefined ? position : Number(last.seq),
      };
    });
  }
}

function lineOf(runId: RunId, row: LogRow): LogLine {
  return withAttempts(
    {
      runId,
      jobId: asJobId(row.job_id),
      stepIndex: row.step_index,
      stream: row.stream,
      at: millis(row.at),
      text: row.text,
    },
    row.job_attempt,
    row.step_attempt,
  );
}
