import { asJobId, type JobId } from '../../core/ids.js';
import type { StaleWrite, StaleWriteStore } from '../stale-writes.js';
import { millis, type Writable } from './columns.js';
import type { PostgresDatabase, Statement } from './database.js';

interface StaleWriteRow {
  job_id: string;
  fencing_token: string;
  current_token: string | null;
  message_type: string;
  at: string;
  runner_id: string | null;
}

const columns = 'job_id, fencing_token, current_token, message_type, at, runner_id';

const statements = {
  record: {
    name: 'vk_record_stale_write',
    text: `INSERT INTO stale_writes (${columns}) VALUES ($1, $2, $3, $4, $5, $6)`,
  },
  all: { name: 'vk_list_stale_writes', text: `SELECT ${columns} FROM stale_writes ORDER BY seq` },
  ofJob: {
    name: 'vk_list_job_stale_writes',
    text: `SELECT ${columns} FROM stale_writes WHERE job_id = $1 ORDER BY seq`,
  },
  ofJobs: {
    name: 'vk_list_jobs_stale_writes',
    text: `SELECT ${columns} FROM stale_writes WHERE job_id = ANY($1::text[]) ORDER BY seq`,
  },
} satisfies Record<string, Statement>;

/** StaleWriteStore on the shared pool; rows keep their order through the table's identity column. */
export class PostgresStaleWriteStore implements StaleWriteStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  record(write: StaleWrite): Promise<void> {
    return this.#db.write(`record a stale write for job ${write.jobId}`, async (query) => {
      await query(statements.record, [
        write.jobId,
        write.fencingToken,
        write.currentToken ?? null,
        write.messageType,
        write.at,
        write.runnerId ?? null,
      ]);
    });
  }

  list(options?: { jobId?: JobId; jobIds?: readonly JobId[] }): Promise<StaleWrite[]> {
    return this.#db.read('list stale writes', async (query) => {
      const jobId = options?.jobId;
      const jobIds = options?.jobIds;
      const { rows } =
        jobId !== undefined
          ? await query<StaleWriteRow>(statements.ofJob, [jobId])
          : jobIds !== undefined
            ? await query<StaleWriteRow>(statements.ofJobs, [jobIds])
            : await query<StaleWriteRow>(statements.all, []);
      return rows.map(toStaleWrite);
    });
  }
}

function toStaleWrite(row: StaleWriteRow): StaleWrite {
  const write: Writable<StaleWrite> = {
    jobId: asJobId(row.job_id),
    fencingToken: Number(row.fencing_token),
    messageType: row.message_type,
    at: millis(row.at),
  };
  if (row.current_token !== null) write.currentToken = Number(row.current_token);
  if (row.runner_id !== null) write.runnerId = row.runner_id;
  return write;
}
