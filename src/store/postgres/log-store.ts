import { asJobId, type JobId, type RunId } from '../../core/ids.js';
import { defaultReadAfterLimit, type LogLine, type LogStore, withAttempts } from '../logs.js';
import type { RunOwner } from '../recovery.js';
import { millis, runKey } from './columns.js';
import type { PostgresDatabase, Statement } from './database.js';
import { insertLogRows } from './log-rows.js';

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
  runEnd: {
    name: 'vk_end_of_run_logs',
    text: 'SELECT MAX(seq) AS seq FROM log_lines WHERE run_id = $1',
  },
  // Newest first on log_lines_by_job (job_id, run_id, seq): the last runner line is near its end.
  lineEnd: {
    name: 'vk_end_of_runner_lines',
    text: `SELECT line_index FROM log_lines WHERE job_id = $2 AND run_id = $1 AND job_attempt = $3
           AND line_index IS NOT NULL ORDER BY seq DESC LIMIT 1`,
  },
} satisfies Record<string, Statement>;

/**
 * LogStore on the shared pool; lines keep append order through the table's identity column. Appends
 * pass the run fence (run-fence.ts) for `writer`, as the run store's writes do.
 */
export class PostgresLogStore implements LogStore {
  readonly #db: PostgresDatabase;
  readonly #writer: RunOwner;

  constructor(db: PostgresDatabase, writer: RunOwner) {
    this.#db = db;
    this.#writer = writer;
  }

  append(lines: readonly LogLine[]): Promise<void> {
    const writer = this.#writer;
    return this.#db.write('append log lines', (query, turn) => insertLogRows(query, lines, { writer, turn }));
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

  endPosition(runId: RunId): Promise<number> {
    // On the write lane: a read may see appends made after the call (PostgresDatabase.read).
    return this.#db.write(`find the end of the log of run ${runId}`, async (query) => {
      const key = runKey(runId);
      if (key === undefined) return 0;
      const { rows } = await query<{ seq: string | null }>(statements.runEnd, [key]);
      const seq = rows[0]?.seq;
      return seq === undefined || seq === null ? 0 : Number(seq);
    });
  }

  lineEnd(runId: RunId, jobId: JobId, jobAttempt: number): Promise<number> {
    // On the write lane, as endPosition: after every append made before it.
    return this.#db.write(`find the runner's last line of job ${jobId}`, async (query) => {
      const key = runKey(runId);
      if (key === undefined) return 0;
      const { rows } = await query<{ line_index: number }>(statements.lineEnd, [key, jobId, jobAttempt]);
      const last = rows[0]?.line_index;
      return last === undefined ? 0 : last + 1;
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
