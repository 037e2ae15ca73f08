import type Database from 'better-sqlite3';
import { asJobId, type JobId, type RunId } from '../../core/ids.js';
import { defaultReadAfterLimit, type LogLine, type LogStore, withAttempts } from '../logs.js';
import type { JobUpdate } from '../runs.js';
import { runKey } from './columns.js';
import { type GroupCommit, oneStatement } from './group-commit.js';
import type { LogRowInserts } from './log-rows.js';
import { refusedAfter, type SqliteRunFence } from './run-fence.js';

interface LogRow {
  job_id: string;
  job_attempt: number;
  step_attempt: number;
  step_index: number;
  stream: LogLine['stream'];
  at: number;
  text: string;
}

const noUpdates: readonly JobUpdate[] = [];

const columns = 'job_id, step_index, stream, at, text, job_attempt, step_attempt';
// The newest N of a selection, put back into append order by the outer query.
const newest = (where: string) =>
  `SELECT ${columns} FROM (SELECT seq, ${columns} FROM log_lines WHERE ${where} ORDER BY seq DESC LIMIT ?)
   ORDER BY seq`;

/**
 * LogStore on one better-sqlite3 connection; lines keep append order through the table's rowid.
 * Appends pass the run fence (SqliteRunFence.keep) as the run store's writes do.
 */
export class SqliteLogStore implements LogStore {
  readonly #rows;
  readonly #runLines;
  readonly #runTail;
  readonly #jobLines;
  readonly #jobTail;
  readonly #runAfter;
  readonly #jobAfter;
  readonly #runEnd;
  readonly #lineEnd;

  constructor(
    db: Database.Database,
    private readonly commits: GroupCommit,
    rows: LogRowInserts,
    private readonly fence: SqliteRunFence,
  ) {
    this.#rows = rows;
    this.#runLines = db.prepare<[number], LogRow>(
      `SELECT ${columns} FROM log_lines WHERE run_id = ? ORDER BY seq`,
    );
    this.#runTail = db.prepare<[number, number], LogRow>(newest('run_id = ?'));
    // The unary + keeps the planner off the run index: a job's lines are a small part of its run's.
    this.#jobLines = db.prepare<[string, number], LogRow>(
      `SELECT ${columns} FROM log_lines WHERE job_id = ? AND +run_id = ? ORDER BY seq`,
    );
    this.#jobTail = db.prepare<[string, number, number], LogRow>(newest('job_id = ? AND +run_id = ?'));
    this.#runAfter = db.prepare<[number, number, number], LogRow & { seq: number }>(
      `SELECT seq, ${columns} FROM log_lines WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
    );
    this.#jobAfter = db.prepare<[string, number, number, number], LogRow & { seq: number }>(
      `SELECT seq, ${columns} FROM log_lines WHERE job_id = ? AND +run_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
    );
    this.#runEnd = db
      .prepare<[number], number | null>('SELECT MAX(seq) FROM log_lines WHERE run_id = ?')
      .pluck();
    // Newest first on the job index (job_id, then rowid): the last runner line is near its end.
    this.#lineEnd = db
      .prepare<[string, number, number], number>(
        `SELECT line_index FROM log_lines WHERE job_id = ? AND +run_id = ? AND job_attempt = ?
         AND line_index IS NOT NULL ORDER BY seq DESC LIMIT 1`,
      )
      .pluck();
  }

  append(lines: readonly LogLine[]): Promise<void> {
    return this.commits
      .write('append log lines', () => {
        if (lines.length === 0) return undefined;
        const kept = this.fence.keep(noUpdates, lines);
        if (kept.lines.length > 0) this.#rows.insert(kept.lines);
        return kept.refused;
      })
      .then(refusedAfter);
  }

  read(runId: RunId, options?: { jobId?: JobId; tail?: number }): Promise<LogLine[]> {
    return this.commits.read(`read the log of run ${runId}`, () => {
      const key = runKey(runId);
      if (key === undefined) return [];
      const jobId = options?.jobId;
      const tail = options?.tail === undefined ? undefined : Math.max(0, Math.floor(options.tail));
      let rows: LogRow[];
      if (jobId === undefined) {
        rows = tail === undefined ? this.#runLines.all(key) : this.#runTail.all(key, tail);
      } else {
        rows = tail === undefined ? this.#jobLines.all(jobId, key) : this.#jobTail.all(jobId, key, tail);
      }
      return rows.map((row) => lineOf(runId, row));
    });
  }

  readAfter(
    runId: RunId,
    position: number,
    options?: { jobId?: JobId; limit?: number },
  ): Promise<{ lines: LogLine[]; position: number }> {
    return this.commits.read(`follow the log of run ${runId}`, () => {
      const key = runKey(runId);
      if (key === undefined) return { lines: [], position };
      const limit = Math.max(1, Math.floor(options?.limit ?? defaultReadAfterLimit));
      const jobId = options?.jobId;
      const rows =
        jobId === undefined
          ? this.#runAfter.all(key, position, limit)
          : this.#jobAfter.all(jobId, key, position, limit);
      return {
        lines: rows.map((row) => lineOf(runId, row)),
        position: rows.at(-1)?.seq ?? position,
      };
    });
  }

  endPosition(runId: RunId): Promise<number> {
    // A write that changes nothing: in the order of the appends, and in their batch's transaction.
    return this.commits.write(
      `find the end of the log of run ${runId}`,
      () => {
        const key = runKey(runId);
        return key === undefined ? 0 : (this.#runEnd.get(key) ?? 0);
      },
      oneStatement,
    );
  }

  lineEnd(runId: RunId, jobId: JobId, jobAttempt: number): Promise<number> {
    // On the write lane, as endPosition: after every append made before it.
    return this.commits.write(
      `find the runner's last line of job ${jobId}`,
      () => {
        const key = runKey(runId);
        const last = key === undefined ? undefined : this.#lineEnd.get(jobId, key, jobAttempt);
        return last === undefined ? 0 : last + 1;
      },
      oneStatement,
    );
  }
}

function lineOf(runId: RunId, row: LogRow): LogLine {
  return withAttempts(
    {
      runId,
      jobId: asJobId(row.job_id),
      stepIndex: row.step_index,
      stream: row.stream,
      at: row.at,
      text: row.text,
    },
    row.job_attempt,
    row.step_attempt,
  );
}
