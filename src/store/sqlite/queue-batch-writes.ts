import type Database from 'better-sqlite3';
import type { Completion } from '../queue.js';
import { outcomeText, type QueueInsert } from '../queue-rows.js';

/**
 * Rows per multi-row statement, largest first: a batch of n rows is written by ⌊n/64⌋ statements of
 * 64 rows and at most 9 smaller ones, from at most 4 prepared statements per kind. In better-sqlite3
 * each statement call costs about as much again as the row it writes (binding aside: the call, its
 * result object, the statement's setup); under callgrind, inserting 64 rows per call instead of one
 * took ~5,000 fewer instructions per job, and settling 64 leases per UPDATE ~4,000 fewer.
 */
const rowsPerStatement = [64, 16, 4, 1] as const;

function* chunksOf<T>(rows: readonly T[]): Generator<readonly T[]> {
  let at = 0;
  for (const size of rowsPerStatement) {
    while (rows.length - at >= size) {
      yield rows.slice(at, at + size);
      at += size;
    }
  }
}

/** A new job's columns that vary by job; created_at, and a lease's worker and expiry, are per batch. */
const insertColumns =
  'task, payload, priority, queue_key, not_before, max_attempts, on_lease_expiry, idempotency_key';
const jobValues = '?, ?, ?, ?, ?, ?, ?, ?';
/**
 * The same columns for a chunk of jobs that differ only in task and payload (a submission of jobs
 * alike, the common case): the rest is bound once by name. Binding a value costs ~65 ns here, a third
 * of a row's insert, so five fewer per row are ~0.3 µs less per job.
 */
const alikeJobValues = '?, ?, @priority, @queueKey, @notBefore, @maxAttempts, @onLeaseExpiry, NULL';
type JobValue = string | number | null;

function pushJobValues(values: JobValue[], insert: QueueInsert): void {
  values.push(
    insert.task,
    insert.payload,
    insert.priority,
    insert.queueKey,
    insert.notBefore,
    insert.maxAttempts,
    insert.onLeaseExpiry,
    insert.idempotencyKey,
  );
}

/**
 * The columns every job of the chunk shares besides task and payload; undefined when they differ, and
 * for a single row, which binds as cheaply by position as by name.
 */
function sharedByAll(chunk: readonly QueueInsert[]) {
  const first = chunk[0];
  if (first === undefined || chunk.length === 1) return undefined;
  const { priority, queueKey, notBefore, maxAttempts, onLeaseExpiry } = first;
  for (const insert of chunk) {
    if (
      insert.idempotencyKey !== null ||
      insert.priority !== priority ||
      insert.queueKey !== queueKey ||
      insert.notBefore !== notBefore ||
      insert.maxAttempts !== maxAttempts ||
      insert.onLeaseExpiry !== onLeaseExpiry
    ) {
      return undefined;
    }
  }
  return { priority, queueKey, notBefore, maxAttempts, onLeaseExpiry };
}

/** Per-batch values, bound by name once per statement however many rows use them. */
interface Shared {
  readonly createdAt: number;
  readonly worker?: string;
  readonly expiresAt?: number;
}

/**
 * The queue's bulk writes as multi-row statements: new jobs (queued, or leased at once by
 * enqueueAndClaim), and completions. Runs inside the caller's transaction; SQLite's single writer
 * lock is what makes the ids of one INSERT consecutive.
 */
export class QueueBatchWrites {
  readonly #db: Database.Database;
  readonly #statements = new Map<string, Database.Statement<unknown[]>>();
  #completeRangeStatement: Database.Statement<unknown[]> | undefined;
  /** complete's writes in a savepoint of their own: one transaction function, not one per batch. */
  readonly #settleInSavepoint: (all: readonly Settled[], now: number) => void;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#settleInSavepoint = db.transaction((all: readonly Settled[], now: number) =>
      this.#settle(all, now),
    );
  }

  /** Inserts the jobs queued; returns their ids in the batch's order. */
  insertQueued(inserts: readonly QueueInsert[], createdAt: number): number[] {
    return this.#insert('queued', inserts, { createdAt });
  }

  /** Inserts the jobs as a claim would leave them: leased to `worker`, first attempt, token 1. */
  insertLeased(
    inserts: readonly QueueInsert[],
    createdAt: number,
    worker: string,
    expiresAt: number,
  ): number[] {
    return this.#insert('leased', inserts, { createdAt, worker, expiresAt });
  }

  /**
   * Settles the leases with their outcomes. All or nothing: false, with nothing written, when any
   * lease was not current or a job is named twice — the caller then settles them one by one, which
   * records the stale ones and keeps a job's first outcome. Both show as fewer rows changed than
   * named: a row already settled is no longer `leased`, and one statement updates a row once
   * however often it names it.
   */
  complete(completions: readonly Completion[], now: number): boolean {
    try {
      this.#settleInSavepoint(
        completions.map((completion) => settled(completion, completions)),
        now,
      );
      return true;
    } catch (error) {
      if (error === staleInBatch) return false;
      throw error;
    }
  }

  #settle(all: readonly Settled[], now: number): void {
    const scattered: Settled[] = [];
    // Runs of ids a stride apart written alike: a worker that runs jobs claimed together settles
    // them together, mostly in id order, and a pool that hands them out in turn to n workers gets
    // back every n-th (see maxStride). Found by index: an array per run cost ~200 B a job.
    let start = 0;
    while (start < all.length) {
      const stride = strideAt(all, start);
      let end = start + 1;
      if (stride !== 0) {
        end++;
        for (; end < all.length; end++) {
          const previous = all[end - 1] as Settled;
          const next = all[end] as Settled;
          if (next.seq !== previous.seq + stride || !alike(next, previous)) break;
        }
      }
      if (end - start >= minRangeRun) this.#completeRange(all, start, end - start, stride, now);
      else {
        for (let k = start; k < end; k++) {
          const completion = all[k];
          if (completion !== undefined) scattered.push(completion);
        }
      }
      start = end;
    }
    const rest: Settled[] = [];
    for (const group of groupsAlike(scattered)) {
      if (group.length < minListGroup) {
        rest.push(...group);
        continue;
      }
      let at = 0;
      for (const size of listSizes) {
        for (; group.length - at >= size; at += size) this.#completeList(group.slice(at, at + size), now);
      }
      rest.push(...group.slice(at));
    }
    for (const chunk of chunksOf(rest)) {
      const values: (number | string | null)[] = [];
      for (const { seq, token, kind, outcome } of chunk) values.push(seq, token, kind, outcome);
      if (this.#completeStatement(chunk.length).run(...values, { now }).changes !== chunk.length) {
        throw staleInBatch;
      }
    }
  }

  /** Settles jobs stored alike (one token, one stored outcome) by a list of their ids. */
  #completeList(group: readonly Settled[], now: number): void {
    const first = group[0];
    if (first === undefined) return;
    const key = `complete-list:${group.length}`;
    let statement = this.#statements.get(key);
    if (statement === undefined) {
      statement = this.#db.prepare(
        `UPDATE queue_jobs SET state = ?, outcome = ?, finished_at = ?, ${clearedLease}
         WHERE seq IN (${Array.from({ length: group.length }, () => '?').join(', ')})
           AND lease_token = ? AND state = 'leased'`,
      );
      this.#statements.set(key, statement);
    }
    const values: (number | string | null)[] = [first.kind, first.outcome, now];
    for (const { seq } of group) values.push(seq);
    values.push(first.token);
    if (statement.run(...values).changes !== group.length) throw staleInBatch;
  }

  /**
   * Settles `length` jobs from `all[start]`, their ids `stride` apart, all under one token with one
   * stored outcome, by id range: with a stride over 1, the rows between them are stepped over. One
   * statement serves every stride; with 1, every row of the range matches.
   */
  #completeRange(all: readonly Settled[], start: number, length: number, stride: number, now: number): void {
    const first = all[start];
    if (first === undefined) return;
    this.#completeRangeStatement ??= this.#db.prepare(
      // Integers (better-sqlite3 binds a number as a REAL), computed once per statement; the
      // remainder comes first, so a row stepped over is not compared for its token and state.
      `UPDATE queue_jobs SET state = ?, outcome = ?, finished_at = ?, ${clearedLease}
       WHERE seq BETWEEN ? AND ? AND seq % CAST(? AS INTEGER) = CAST(? AS INTEGER)
         AND lease_token = ? AND state = 'leased'`,
    );
    const { changes } = this.#completeRangeStatement.run(
      first.kind,
      first.outcome,
      now,
      first.seq,
      first.seq + (length - 1) * stride,
      stride,
      first.seq % stride,
      first.token,
    );
    if (changes !== length) throw staleInBatch;
  }

  #insert(state: 'queued' | 'leased', inserts: readonly QueueInsert[], shared: Shared): number[] {
    const ids: number[] = [];
    for (const chunk of chunksOf(inserts)) {
      const values: JobValue[] = [];
      const alike = sharedByAll(chunk);
      if (alike === undefined) for (const insert of chunk) pushJobValues(values, insert);
      else for (const insert of chunk) values.push(insert.task, insert.payload);
      const statement = this.#insertStatement(state, chunk.length, alike !== undefined);
      const { changes, lastInsertRowid } = statement.run(
        ...values,
        alike === undefined ? shared : { ...shared, ...alike },
      );
      const last = Number(lastInsertRowid);
      // Rowids of one statement are max+1, max+2, …: consecutive unless the table reached the largest
      // rowid, past which SQLite picks random free ones (and ids would no longer be safe integers).
      if (changes !== chunk.length || !Number.isSafeInteger(last)) {
        throw new Error(
          `a multi-row insert of ${chunk.length} queue jobs wrote ${changes} (last id ${last})`,
        );
      }
      for (let id = last - chunk.length + 1; id <= last; id++) ids.push(id);
    }
    return ids;
  }

  #insertStatement(state: 'queued' | 'leased', rows: number, alike: boolean): Database.Statement<unknown[]> {
    const key = `${state}:${rows}:${alike ? 'alike' : 'each'}`;
    let statement = this.#statements.get(key);
    if (statement === undefined) {
      const values = alike ? alikeJobValues : jobValues;
      const row =
        state === 'queued'
          ? `(${values}, @createdAt, 'queued')`
          : `(${values}, @createdAt, 'leased', 1, 1, @worker, @expiresAt)`;
      const columns =
        state === 'queued'
          ? `${insertColumns}, created_at, state`
          : `${insertColumns}, created_at, state, attempts, lease_token, lease_worker, lease_expires_at`;
      statement = this.#db.prepare(
        `INSERT INTO queue_jobs (${columns}) VALUES ${Array.from({ length: rows }, () => row).join(', ')}`,
      );
      this.#statements.set(key, statement);
    }
    return statement;
  }

  #completeStatement(rows: number): Database.Statement<unknown[]> {
    const key = `complete:${rows}`;
    let statement = this.#statements.get(key);
    if (statement === undefined) {
      statement = this.#db.prepare(
        `UPDATE queue_jobs SET state = settled.column3, outcome = settled.column4, finished_at = @now,
           ${clearedLease}
         FROM (VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?)').join(', ')}) AS settled
         WHERE queue_jobs.seq = settled.column1 AND queue_jobs.lease_token = settled.column2
           AND queue_jobs.state = 'leased'`,
      );
      this.#statements.set(key, statement);
    }
    return statement;
  }
}

/**
 * A settled job's lease columns, cleared as the single-row completion clears them. Nothing reads them
 * once the job has left `leased`, but the row shrinks by the worker's name: measured on a batch of
 * leased inserts and their completions, updating the rows and committing them cost ~0.3 µs a job less.
 */
const clearedLease = 'lease_worker = NULL, lease_expires_at = NULL';

/**
 * Completions alike (one token, one stored outcome) in groups of at least this many are written by
 * id lists of these sizes, the rest of them by the multi-row statement. `seq IN (…)` costs ~0.6 µs a
 * job where joining a VALUES list costs ~1.1 (measured, 64 rows a statement); a shorter list pays
 * the statement's call for too few rows.
 */
const minListGroup = 16;
const listSizes = [64, 16] as const;

/**
 * The completions grouped by what their rows are written with; usually one group (every job of the
 * batch succeeded without a result on its first lease), found without building a key per job.
 */
function groupsAlike(completions: readonly Settled[]): (readonly Settled[])[] {
  const first = completions[0];
  if (first === undefined) return [];
  if (completions.every((c) => alike(c, first))) return [completions];
  const groups = new Map<string, Settled[]>();
  for (const completion of completions) {
    // A stored outcome is JSON text, never empty: '' stands for none.
    const key = `${completion.token} ${completion.kind} ${completion.outcome ?? ''}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [completion]);
    else group.push(completion);
  }
  return [...groups.values()];
}

function alike(a: Settled, b: Settled): boolean {
  return a.token === b.token && a.kind === b.kind && a.outcome === b.outcome;
}

/** A completion as its row is written: the outcome as stored. */
interface Settled {
  readonly seq: number;
  readonly token: number;
  readonly kind: Completion['outcome']['kind'];
  readonly outcome: string | null;
}

function settled(completion: Completion, all: readonly Completion[]): Settled {
  const { lease, outcome } = completion;
  return {
    seq: Number(lease.jobId),
    token: lease.token,
    kind: outcome.kind,
    outcome: outcomeText(completion, all),
  };
}

/**
 * Runs shorter than this are written by the multi-row statements: a range UPDATE per run of 4 would
 * cost more statement calls than it saves.
 */
const minRangeRun = 16;

/**
 * The widest stride a range settles by: each job of such a run costs stepping over stride - 1 rows.
 * Under callgrind, settling 1,024 jobs in batches of 128 per worker cost ~2.9k instructions a job
 * less by range than by id lists with 2 workers, and ~1.1k more with 8.
 */
const maxStride = 4;

/** The stride of the run from `all[start]`: its next id less its id, when 1 to maxStride and alike; else 0. */
function strideAt(all: readonly Settled[], start: number): number {
  const first = all[start];
  const second = all[start + 1];
  if (first === undefined || second === undefined || !alike(first, second)) return 0;
  const stride = second.seq - first.seq;
  return stride >= 1 && stride <= maxStride ? stride : 0;
}

/** Thrown inside the batch's savepoint to roll it back; never leaves this module. */
const staleInBatch = new Error('a completion in the batch carried a stale token');
