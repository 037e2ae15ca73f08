import type Database from 'better-sqlite3';
import { ValkyrieError } from '../../core/errors.js';
import type { LogLine } from '../logs.js';
import { runKey } from './columns.js';
import { sqliteCode } from './errors.js';
import { insertRowsSql, runInChunks, type Value } from './multi-row.js';

const columns = [
  'run_id',
  'job_id',
  'step_index',
  'stream',
  'at',
  'text',
  'job_attempt',
  'step_attempt',
  'line_index',
];
const valuesPerLine = columns.length;

/**
 * Inserts of log_lines rows, for LogStore.append and for the lines RunStore.updateJobs writes with
 * its job updates. Lines go as multi-row INSERTs: a statement per line cost more than its row. A
 * value every line of a statement has (the run, the stream, the attempts; the control plane's line
 * naming the runner each leased job started on) is bound once (runInChunks). Callers run this inside
 * a transaction, so a failure leaves none of the lines.
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
      values[at++] = line.lineIndex ?? null;
    }
    runInChunks(
      values,
      lines.length,
      valuesPerLine,
      (rows, alike) => this.#statement(rows, alike),
      (_, error) => {
        if (sqliteCode(error) !== 'SQLITE_CONSTRAINT_FOREIGNKEY') return error;
        const missing = lines.find(({ jobId }) => !this.hasJob(jobId))?.jobId ?? '?';
        return new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${missing}`, { cause: error });
      },
    );
  }

  /** By `alike` × 128 + rows (rows ≤ 64): a statement prepared once. */
  #statement(rows: number, alike: number): Database.Statement<Value[]> {
    const key = alike * 128 + rows;
    let statement = this.#statements.get(key);
    if (statement === undefined) {
      statement = this.db.prepare<Value[]>(insertRowsSql('log_lines', columns, rows, alike));
      this.#statements.set(key, statement);
    }
    return statement;
  }
}
