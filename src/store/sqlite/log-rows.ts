import type Database from 'better-sqlite3';
import { ValkyrieError } from '../../core/errors.js';
import type { LogLine } from '../logs.js';
import { runKey } from './columns.js';
import { sqliteCode } from './errors.js';
import { placeholderRows, runInChunks, type Value } from './multi-row.js';

const columns = 'run_id, job_id, step_index, stream, at, text, job_attempt, step_attempt';
const valuesPerLine = 8;

/**
 * Inserts of log_lines rows, for LogStore.append and for the lines RunStore.updateJobs writes with
 * its job updates. Lines go as multi-row INSERTs: a statement per line cost more than its row.
 * Callers run this inside a transaction, so a failure leaves none of the lines.
 */
export class LogRowInserts {
  readonly #statements = new Map<number, Database.Statement<Value[]>>();
  readonly #jobExists;

  constructor(private readonly db: Database.Database) {
    this.#jobExists = db.prepare<[string], number>('SELECT 1 FROM jobs WHERE id = ?').pluck();
  }

  /** Whether job `id` is stored (also for RunStore's own job writes on this connection). */
  hasJob(id: string): boolean {
    return this.#jobExists.get(id) !== undefined;
  }

  /** In the order given (their seq follows it); VK_RUN_NOT_FOUND or VK_JOB_NOT_FOUND for a bad line. */
  insert(lines: readonly LogLine[]): void {
    const values: Value[] = new Array<Value>(lines.length * valuesPerLine);
    let at = 0;
    for (const line of lines) {
      const key = runKey(line.runId);
      if (key === undefined) throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${line.runId}`);
      values[at++] = key;
      values[at++] = line.jobId;
      values[at++] = line.stepIndex;
      values[at++] = line.stream;
      values[at++] = line.at;
      values[at++] = line.text;
      values[at++] = line.jobAttempt ?? 1;
      values[at++] = line.attempt ?? 1;
    }
    runInChunks(
      values,
      lines.length,
      valuesPerLine,
      (rows) => this.#statement(rows),
      (_, error) => {
        if (sqliteCode(error) !== 'SQLITE_CONSTRAINT_FOREIGNKEY') return error;
        const missing = lines.find(({ jobId }) => !this.hasJob(jobId))?.jobId ?? '?';
        return new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${missing}`, { cause: error });
      },
    );
  }

  #statement(rows: number): Database.Statement<Value[]> {
    let statement = this.#statements.get(rows);
    if (statement === undefined) {
      const values = placeholderRows(valuesPerLine, rows);
      statement = this.db.prepare<Value[]>(`INSERT INTO log_lines (${columns}) VALUES ${values}`);
      this.#statements.set(rows, statement);
    }
    return statement;
  }
}
