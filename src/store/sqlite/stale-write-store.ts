import type Database from 'better-sqlite3';
import { asJobId, type JobId } from '../../core/ids.js';
import type { StaleWrite, StaleWriteStore } from '../stale-writes.js';
import { nullable, type Writable } from './columns.js';
import type { GroupCommit } from './group-commit.js';

interface StaleWriteRow {
  job_id: string;
  fencing_token: number;
  current_token: number | null;
  message_type: string;
  at: number;
  runner_id: string | null;
}

const columns = 'job_id, fencing_token, current_token, message_type, at, runner_id';

/** StaleWriteStore on the shared connection; rows keep their order through the table's rowid. */
export class SqliteStaleWriteStore implements StaleWriteStore {
  readonly #insert;
  readonly #all;
  readonly #ofJob;
  readonly #ofJobs;

  constructor(
    db: Database.Database,
    private readonly commits: GroupCommit,
  ) {
    this.#insert = db.prepare<[string, number, number | null, string, number, string | null]>(
      `INSERT INTO stale_writes (${columns}) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#all = db.prepare<[], StaleWriteRow>(`SELECT ${columns} FROM stale_writes ORDER BY seq`);
    this.#ofJob = db.prepare<[string], StaleWriteRow>(
      `SELECT ${columns} FROM stale_writes WHERE job_id = ? ORDER BY seq`,
    );
    // The ids as one JSON array: a statement prepared once, whatever their number.
    this.#ofJobs = db.prepare<[string], StaleWriteRow>(
      `SELECT ${columns} FROM stale_writes WHERE job_id IN (SELECT value FROM json_each(?)) ORDER BY seq`,
    );
  }

  record(write: StaleWrite): Promise<void> {
    return this.commits.write(`record a stale write for job ${write.jobId}`, () => {
      this.#insert.run(
        write.jobId,
        write.fencingToken,
        nullable(write.currentToken),
        write.messageType,
        write.at,
        nullable(write.runnerId),
      );
    });
  }

  list(options?: { jobId?: JobId; jobIds?: readonly JobId[] }): Promise<StaleWrite[]> {
    return this.commits.read('list stale writes', () => {
      const jobId = options?.jobId;
      const jobIds = options?.jobIds;
      const rows =
        jobId !== undefined
          ? this.#ofJob.all(jobId)
          : jobIds !== undefined
            ? this.#ofJobs.all(JSON.stringify(jobIds))
            : this.#all.all();
      return rows.map(toStaleWrite);
    });
  }
}

function toStaleWrite(row: StaleWriteRow): StaleWrite {
  const write: Writable<StaleWrite> = {
    jobId: asJobId(row.job_id),
    fencingToken: row.fencing_token,
    messageType: row.message_type,
    at: row.at,
  };
  if (row.current_token !== null) write.currentToken = row.current_token;
  if (row.runner_id !== null) write.runnerId = row.runner_id;
  return write;
}
