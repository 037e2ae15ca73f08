import Database from 'better-sqlite3';
import { asQueueJobId, type ClaimRequest, claimLimit, type Lease, type QueueJobId } from '../queue.js';

/** A job a claim may take now (the first parameter is now); SqliteQueueStore adds a task filter. */
export const ready = "state = 'queued' AND (not_before IS NULL OR not_before <= ?)";
/**
 * A bare parameter as LIMIT makes SQLite plan with its value, so the statement is prepared again on
 * every run (~20 µs, more than the claim's own work); an expression is planned once.
 */
const limitParam = '? + 0';

/**
 * A ready job as a claim reads it, before the claim's update: seq, task, attempts, lease token, and
 * its queue key less the claim's time, by which the order is checked (readReadyJobs).
 */
export type ReadyRow = [seq: number, task: string, attempts: number, leaseToken: number, key: number];

/** The rows a claim read, in queue order, and the payload of each, by position. */
export interface ReadyJobs {
  readonly rows: readonly ReadyRow[];
  readonly payloads: ClaimedPayloads;
}

/**
 * A claim's payloads, parsed all at once the first time one is read: an engine that claims jobs it
 * enqueued itself already holds their inputs and never reads them, and the parse (with its objects)
 * was most of a claim's JavaScript per job.
 */
export class ClaimedPayloads {
  /** The list as read (JSON values joined by commas) until parsed. */
  #list: string | undefined;
  #values: readonly unknown[] | undefined;
  readonly #count: number;

  constructor(count: number, from: { readonly list: string } | { readonly values: readonly unknown[] }) {
    this.#count = count;
    this.#list = 'list' in from ? from.list : undefined;
    this.#values = 'values' in from ? from.values : undefined;
  }

  /** The payload of the claim's `i`-th row. */
  at(i: number): unknown {
    return this.#parsed()[i];
  }

  /**
   * The same payloads with the rows in another order (`order[i]` is the old position of row i),
   * parsed now: rows come out of queue order rarely (see readReadyJobs).
   */
  reordered(order: readonly number[]): ClaimedPayloads {
    const values = this.#parsed();
    return new ClaimedPayloads(this.#count, { values: order.map((i) => values[i]) });
  }

  #parsed(): readonly unknown[] {
    if (this.#values !== undefined) return this.#values;
    const values = JSON.parse(`[${this.#list ?? ''}]`) as unknown[];
    if (values.length !== this.#count) {
      throw new Error(`a claim read ${this.#count} ready jobs and ${values.length} payloads`);
    }
    this.#values = values;
    this.#list = undefined;
    return values;
  }
}

export const leaseColumns = `state = 'leased', attempts = attempts + 1, lease_token = lease_token + 1,
  lease_worker = ?, lease_expires_at = ?`;

/**
 * A claim reads the first ready jobs (`where`: ready, and of the given tasks when filtered) in queue
 * order, then leases them. Reading and then updating without RETURNING costs a third less than one
 * UPDATE … RETURNING, whose rows SQLite collects apart and hands back out of order. Up to `fewJobs`
 * are leased by key; more by one UPDATE over their id range when the ids are consecutive (the store's
 * own statement), else by one UPDATE that selects them again, the same rows, since nothing else
 * writes inside the transaction: it holds SQLite's only write lock.
 *
 * `readyLists` reads them as one row of two JSON lists (readReadyJobs()): better-sqlite3 builds a row
 * array through the V8 API, ~1,000 instructions a value, and the payloads were then parsed one
 * JSON.parse call each; under callgrind, reading 1,000 jobs so cost ~11.8k instructions a job, the
 * two lists ~7.4k. `anyReady` only tells whether one is ready.
 */
export interface ClaimStatements {
  readonly readyLists: Database.Statement<unknown[], [string | null, string | null]>;
  /** The same rows one by one, each with its payload: for jobs too large to read as one list. */
  readonly readyRows: Database.Statement<unknown[], [...ReadyRow, string]>;
  readonly anyReady: Database.Statement<unknown[], number>;
  readonly leaseReady: Database.Statement<unknown[]>;
}
/** By measurement: the UPDATE … WHERE seq IN (SELECT …) costs more than a few updates by key. */
export const fewJobs = 8;

export function claimStatements(db: Database.Database, where: string): ClaimStatements {
  const first = `FROM queue_jobs WHERE ${where} ORDER BY queue_key, seq LIMIT ${limitParam}`;
  // The key less the claim's time, as an integer (better-sqlite3 binds a number as a REAL): a small
  // integer, which V8 parses on its fast path.
  const row = 'json_array(seq, task, attempts, lease_token, queue_key - CAST(? AS INTEGER))';
  return {
    readyLists: db
      .prepare<unknown[], [string | null, string | null]>(
        `SELECT group_concat(${row}), group_concat(payload)
         FROM (SELECT seq, task, attempts, lease_token, queue_key, payload ${first})`,
      )
      .raw(true),
    readyRows: db
      .prepare<unknown[], [...ReadyRow, string]>(
        `SELECT seq, task, attempts, lease_token, 0, payload ${first}`,
      )
      .raw(true),
    anyReady: db.prepare<unknown[], number>(`SELECT 1 ${first}`).pluck(),
    leaseReady: db.prepare(`UPDATE queue_jobs SET ${leaseColumns} WHERE seq IN (SELECT seq ${first})`),
  };
}

const noJobs: ReadyJobs = { rows: [], payloads: new ClaimedPayloads(0, { values: [] }) };

/**
 * Runs `readyLists` at `now` with `filter` (`where`'s parameters) and `limit`. Both lists come from one pass
 * over the same rows, so they pair by position. SQLite promises no order for group_concat without
 * an ORDER BY of its own (which costs a sort): the rows come in the subquery's order, and the key
 * and seq of each row confirm it; rows found in any other are sorted.
 */
export function readReadyJobs(
  statements: ClaimStatements,
  now: number,
  filter: readonly unknown[],
  limit: number,
): ReadyJobs {
  let rows: ReadyRow[];
  let list: string;
  try {
    const found = statements.readyLists.get(now, ...filter, limit);
    if (found === undefined || found[0] === null || found[1] === null) return noJobs;
    rows = JSON.parse(`[${found[0]}]`) as ReadyRow[];
    list = found[1];
  } catch (error) {
    // Lists longer than SQLite or V8 takes as one string (jobs with large payloads): read apart.
    if (
      (error instanceof Database.SqliteError && error.code === 'SQLITE_TOOBIG') ||
      error instanceof RangeError
    )
      return readyOneByOne(statements.readyRows, filter, limit);
    throw error;
  }
  const payloads = new ClaimedPayloads(rows.length, { list });
  for (let i = 1; i < rows.length; i++) {
    if (inQueueOrder(rows[i - 1] as ReadyRow, rows[i] as ReadyRow) > 0) return sorted(rows, payloads);
  }
  return { rows, payloads };
}

function readyOneByOne(
  statement: ClaimStatements['readyRows'],
  filter: readonly unknown[],
  limit: number,
): ReadyJobs {
  const rows: ReadyRow[] = [];
  const payloads: unknown[] = [];
  for (const [seq, task, attempts, leaseToken, key, payload] of statement.all(...filter, limit)) {
    rows.push([seq, task, attempts, leaseToken, key]);
    payloads.push(JSON.parse(payload));
  }
  return { rows, payloads: new ClaimedPayloads(rows.length, { values: payloads }) };
}

function inQueueOrder(a: ReadyRow, b: ReadyRow): number {
  return a[4] - b[4] || a[0] - b[0];
}

function sorted(rows: readonly ReadyRow[], payloads: ClaimedPayloads): ReadyJobs {
  const order = rows.map((_, i) => i).sort((a, b) => inQueueOrder(rows[a] as ReadyRow, rows[b] as ReadyRow));
  return { rows: order.map((i) => rows[i] as ReadyRow), payloads: payloads.reordered(order) };
}

/** Whether the rows' ids ascend by one (a FIFO claim of jobs enqueued together, the common case). */
export function consecutiveIds(rows: readonly ReadyRow[]): boolean {
  const first = rows[0]?.[0] ?? 0;
  for (let i = 1; i < rows.length; i++) if (rows[i]?.[0] !== first + i) return false;
  return true;
}

/**
 * The lease a claim granted on the `i`-th row it read just before its update. Its payload is read
 * from the claim's list when first asked for (ClaimedPayloads), through a getter: spread or
 * JSON.stringify, a lease would leave it out.
 */
export function claimedLease(
  { rows, payloads }: ReadyJobs,
  i: number,
  worker: string,
  expiresAt: number,
): Lease {
  return new ClaimedLease(rows[i] as ReadyRow, payloads, i, worker, expiresAt);
}

class ClaimedLease implements Lease {
  readonly jobId: QueueJobId;
  readonly token: number;
  readonly worker: string;
  readonly expiresAt: number;
  readonly task: string;
  readonly attempt: number;
  readonly #payloads: ClaimedPayloads;
  readonly #index: number;

  /** Keeps the claim's payloads, not its rows: a lease lives as long as its job runs. */
  constructor(
    [seq, task, attempts, leaseToken]: ReadyRow,
    payloads: ClaimedPayloads,
    i: number,
    worker: string,
    expiresAt: number,
  ) {
    this.jobId = asQueueJobId(String(seq));
    this.token = leaseToken + 1;
    this.worker = worker;
    this.expiresAt = expiresAt;
    this.task = task;
    this.attempt = attempts + 1;
    this.#payloads = payloads;
    this.#index = i;
  }

  get payload(): unknown {
    return this.#payloads.at(this.#index);
  }
}

/** What a new job tells of whether a claim may take it: submitted (NewQueueJob) or validated (QueueInsert). */
interface NewJobFields {
  readonly task: string;
  readonly idempotencyKey?: string | null;
  readonly notBefore?: number | null;
}

/**
 * Whether a claim by `request` right after these jobs' enqueue would take all of them, as far as the
 * jobs alone tell: no more than its limit, each ready at `now`, of a task it claims, and without an
 * idempotency key (a keyed job may resolve to an existing one). The store checks the rest: that no
 * other job is ready, and the capacity.
 */
export function takesAllOf(jobs: readonly NewJobFields[], request: ClaimRequest, now: number): boolean {
  if (jobs.length === 0 || jobs.length > claimLimit(request)) return false;
  const tasks = request.tasks;
  for (const job of jobs) {
    if (job.idempotencyKey != null || (job.notBefore != null && job.notBefore > now)) return false;
    if (tasks !== undefined && !tasks.includes(job.task)) return false;
  }
  return true;
}

/** A leased job's row as a renew returns it. */
export interface LeaseRow {
  seq: number;
  task: string;
  payload: string;
  attempts: number;
  lease_token: number;
  queue_key: number;
}

/** A lease read back from its row (renew). */
export function leaseFromRow(row: Omit<LeaseRow, 'queue_key'>, worker: string, expiresAt: number): Lease {
  return {
    jobId: asQueueJobId(String(row.seq)),
    token: row.lease_token,
    worker,
    expiresAt,
    task: row.task,
    payload: JSON.parse(row.payload),
    attempt: row.attempts,
  };
}
