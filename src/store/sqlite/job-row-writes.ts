import type Database from 'better-sqlite3';
import { ValkyrieError } from '../../core/errors.js';
import type { JobId } from '../../core/ids.js';
import { isTerminal } from '../../core/outcome.js';
import type { LogLine } from '../logs.js';
import { jobRunnerJson } from '../rows.js';
import type { JobPatch, JobUpdate, NewJob } from '../runs.js';
import { nullable, runKey } from './columns.js';
import { sqliteCode } from './errors.js';
import { type GroupCommit, oneStatement } from './group-commit.js';
import {
  bitCount,
  columnsOf,
  insertColumns,
  jsonOf,
  patchColumns,
  pushSetValues,
  rowOf,
  rowWidth,
  setPatchColumns,
  shapeOf,
} from './job-patch-columns.js';
import type { LogRowInserts } from './log-rows.js';
import {
  alikeColumns,
  boundOnce,
  insertRowsSql,
  maxRowsPerStatement,
  placeholderRows,
  runInChunks,
  type Value,
} from './multi-row.js';
import { refusedAfter, type SqliteRunFence } from './run-fence.js';

/** The bit of a shape (shapeOf) that says its rows are keyed by seq, not by id. */
const bySeq = 1 << patchColumns.length;

/** More known seqs than this (the jobs of runs given up before their end stay known) forgets them all. */
const maxKnownSeqs = 100_000;

/** The rows of an addJobs call whose write has not been applied yet. */
interface PendingInsert {
  readonly rows: Map<string, Value[]>;
  /** GroupCommit.mark right after the write was requested. */
  mark: number;
  done: Promise<void>;
}

/**
 * The writes of the jobs table (SqliteRunStore's addJobs and updateJob), each one group-committed
 * write as the RunStore contract says, with two savings for the engine's common sequence (a matrix's
 * legs added, then each queued, in the same turn; then each started, then each finished):
 *
 * - An update made while the write that adds its job is still pending, with no other write requested
 *   since, is folded into that write's row: applied at the same place in the same transaction, and
 *   settled with it. If the insert fails, so does the update, with the insert's error; on its own it
 *   would have failed too (VK_JOB_NOT_FOUND), unless the job existed before this add (a duplicate
 *   id, which the engine never adds).
 * - A patch that starts no attempt updates just its columns, with a statement prepared once per set of
 *   columns: the dozen-COALESCE statement with named parameters took 3.5 µs an update against
 *   1.6–2.2 µs for one setting two columns (a loop of 10,000 in one transaction, on a WAL file).
 * - A job this store added is updated by its seq (the rowid), learned once its add committed, until a
 *   patch ends it: a text id bound and looked up in the jobs' id index cost about 1.8k instructions an
 *   update more than a rowid (the control plane updates each job twice after its add). A row's seq
 *   never changes and Valkyrie deletes no job rows, so a seq learned stays the job's; a job not known
 *   (added by another process or before a restart, re-run, or forgotten) is updated by its id.
 */
export class JobRowWrites {
  /** By alike columns × 128 + rows: INSERT statements of that many rows. */
  readonly #insertRows = new Map<number, Database.Statement<Value[]>>();
  readonly #runExists;
  readonly #startAttempt;
  readonly #updateColumns = new Map<number, Database.Statement<Value[]>>();
  /** By (alike columns × 2 bySeq + shape) × 128 + rows: UPDATE … FROM (VALUES …) statements of that many rows. */
  readonly #updateRows = new Map<number, Database.Statement<Value[]>>();
  readonly #logRows;
  readonly #lastSeq;
  /** The seq of each job this store added and no patch has ended since (see above). */
  readonly #seqs = new Map<string, number>();
  #pendingInsert: PendingInsert | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly commits: GroupCommit,
    logRows: LogRowInserts,
    private readonly fence: SqliteRunFence,
  ) {
    this.#runExists = db.prepare<[number], number>('SELECT 1 FROM runs WHERE id = ?').pluck();
    this.#lastSeq = db.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM jobs').pluck();
    this.#logRows = logRows;
    // A patch with an attempt starts that attempt, so the previous one's times, reason, runner, its
    // lease's token and whether continue-on-error let it pass go; the attempt the job's retries count from stays unless the patch moves it.
    this.#startAttempt = db.prepare(
      `UPDATE jobs SET status = coalesce(@status, status),
       started_at = @startedAt, finished_at = @finishedAt, outputs = coalesce(@outputs, outputs),
       reason = @reason, attempt = @attempt, name = coalesce(@name, name),
       matrix = coalesce(@matrix, matrix), queued_at = @queuedAt, not_before = @notBefore,
       priority = coalesce(@priority, priority), runner = @runner, fencing_token = @fencingToken,
       tries_from = coalesce(@triesFrom, tries_from), continued_on_error = @continuedOnError
       WHERE id = @id`,
    );
  }

  add(jobs: readonly NewJob[]): Promise<void> {
    if (jobs.length === 0) return this.commits.write('add jobs', () => undefined);
    const rows = new Map<string, Value[]>();
    for (const job of jobs) if (!rows.has(job.id)) rows.set(job.id, rowOf(job));
    const pending: PendingInsert = { rows, mark: 0, done: Promise.resolve() };
    let firstSeq: number | undefined;
    // One job is one INSERT of one row (#insertAll), or none and a throw: no savepoint needed.
    pending.done = this.commits.write(
      'add jobs',
      () => {
        if (this.#pendingInsert === pending) this.#pendingInsert = undefined;
        firstSeq = this.#insertAll(jobs, rows);
      },
      jobs.length === 1 ? oneStatement : undefined,
    );
    pending.mark = this.commits.mark;
    this.#pendingInsert = pending;
    // Only once committed: a batch that rolls back frees its seqs for other rows.
    pending.done.then(() => this.#learnSeqs(jobs, firstSeq), ignore);
    return pending.done;
  }

  /** Job i of an add whose first row took seq `first` took seq first + i (see #insertAll). */
  #learnSeqs(jobs: readonly NewJob[], first: number | undefined): void {
    if (first === undefined) return;
    if (this.#seqs.size + jobs.length > maxKnownSeqs) this.#seqs.clear();
    let seq = first;
    for (const { id } of jobs) this.#seqs.set(id, seq++);
  }

  /** The seq to update job `id` by, or undefined (by its id); forgotten by a patch that ends the job. */
  #seqFor(id: string, patch: JobPatch): number | undefined {
    const seq = this.#seqs.get(id);
    if (seq !== undefined && patch.status !== undefined && isTerminal(patch.status)) this.#seqs.delete(id);
    return seq;
  }

  update(id: JobId, patch: JobPatch): Promise<void> {
    if (patch.attempt === undefined) {
      const pending = this.#pendingInsert;
      const row = pending?.mark === this.commits.mark ? pending.rows.get(id) : undefined;
      if (pending !== undefined && row !== undefined) {
        setPatchColumns(row, patch);
        return pending.done;
      }
    }
    const seq = this.#seqFor(id, patch);
    const work = () => {
      this.fence.checkJob(id);
      const { changes } =
        patch.attempt === undefined ? this.#setColumns(id, patch, seq) : this.#startNext(id, patch);
      if (changes === 0) throw new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${id}`);
    };
    return this.commits.write(`update job ${id}`, work, oneStatement);
  }

  /**
   * Several updates as one write (RunStore.updateJobs): folded into the pending insert of their jobs
   * when all of them can be (see update), else applied in one savepoint, so that all or none apply.
   * Updates of distinct jobs without attempts commute, so they go grouped by the columns they set, as
   * multi-row statements: ~0.5–1 µs less a row than a statement each (10,000 two-column updates in
   * chunks of 64–256, WAL file). `lines` (RunStore.updateJobs) are inserted after the updates in the
   * same savepoint; a call with lines is not folded into a pending insert.
   */
  updateMany(updates: readonly JobUpdate[], lines: readonly LogLine[] = []): Promise<void> {
    if (lines.length > 0)
      return this.commits
        .write(`update ${updates.length} jobs and append their log lines`, () => {
          const kept = this.fence.keep(updates, lines);
          if (kept.updates.length > 0) this.#updateAll(kept.updates);
          this.#logRows.insert(kept.lines);
          return kept.refused;
        })
        .then(refusedAfter);
    const [only, ...others] = updates;
    if (only === undefined) return this.commits.write('update no jobs', () => undefined);
    if (others.length === 0) return this.update(only.id, only.patch);
    const folded = this.#foldAll(updates);
    if (folded !== undefined) return folded;
    return this.commits
      .write(`update ${updates.length} jobs`, () => {
        const kept = this.fence.keep(updates, lines);
        if (kept.updates.length > 0) this.#updateAll(kept.updates);
        return kept.refused;
      })
      .then(refusedAfter);
  }

  #foldAll(updates: readonly JobUpdate[]): Promise<void> | undefined {
    const pending = this.#pendingInsert;
    if (pending === undefined || pending.mark !== this.commits.mark) return undefined;
    for (const { id, patch } of updates)
      if (patch.attempt !== undefined || !pending.rows.has(id)) return undefined;
    for (const { id, patch } of updates) {
      const row = pending.rows.get(id);
      if (row !== undefined) setPatchColumns(row, patch);
    }
    return pending.done;
  }

  #updateAll(updates: readonly JobUpdate[]): void {
    const byShape = new Map<number, ShapeRows>();
    const ids = new Set<string>();
    for (const { id, patch } of updates) {
      if (patch.attempt !== undefined || ids.has(id)) {
        this.#updateEach(updates);
        return;
      }
      ids.add(id);
      const seq = this.#seqFor(id, patch);
      const shape = seq === undefined ? shapeOf(patch) : shapeOf(patch) | bySeq;
      let rows = byShape.get(shape);
      if (rows === undefined) {
        rows = { full: [], last: [], count: 0 };
        byShape.set(shape, rows);
      } else if (rows.count === maxRowsPerStatement) {
        rows.full.push(rows.last);
        rows.last = [];
        rows.count = 0;
      }
      rows.last.push(seq ?? id);
      pushSetValues(patch, rows.last);
      rows.count++;
    }
    let changes = 0;
    for (const [shape, rows] of byShape) changes += this.#setRows(shape, rows);
    if (changes === updates.length) return;
    const missing = updates.find(({ id }) => !this.#logRows.hasJob(id))?.id ?? '?';
    // Thrown inside the write's savepoint: the rows already changed are restored.
    throw new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${missing}`);
  }

  #updateEach(updates: readonly JobUpdate[]): void {
    for (const { id, patch } of updates) {
      const { changes } =
        patch.attempt === undefined
          ? this.#setColumns(id, patch, this.#seqFor(id, patch))
          : this.#startNext(id, patch);
      if (changes === 0) throw new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${id}`);
    }
  }

  /** Returns how many rows changed. */
  #setRows(shape: number, { full, last, count }: ShapeRows): number {
    const width = 1 + bitCount(shape & ~bySeq);
    let changes = 0;
    for (const values of full) changes += this.#setChunk(shape, values, 0, maxRowsPerStatement, width);
    // The last chunk in statements of 32, 16, … rows, as its count has bits.
    let at = 0;
    for (let rows = maxRowsPerStatement; rows > 0; rows >>= 1) {
      if ((count & rows) === 0) continue;
      changes += this.#setChunk(shape, last, at, rows, width);
      at += rows * width;
    }
    return changes;
  }

  /** `rows` rows of `values` from `from` in one statement, values alike in every row bound once. */
  #setChunk(shape: number, values: Value[], from: number, rows: number, width: number): number {
    const alike = alikeColumns(values, from, rows, width);
    const statement = this.#rowsStatement(shape, rows, alike);
    if (alike !== 0) return statement.run(...boundOnce(values, from, rows, width, alike)).changes;
    const all = from === 0 && rows * width === values.length;
    return statement.run(...(all ? values : values.slice(from, from + rows * width))).changes;
  }

  /** Bit i + 1 of `alike`: the shape's column i is one value for every row, bound once (alikeColumns). */
  #rowsStatement(shape: number, count: number, alike: number): Database.Statement<Value[]> {
    const key = (alike * 2 * bySeq + shape) * 128 + count;
    let statement = this.#updateRows.get(key);
    if (statement === undefined) {
      const columns = columnsOf(shape);
      let width = 1;
      // The parameters in SET come first in the text, so they take the first values (boundOnce); not
      // numbered ones (?NNN) in the VALUES rows, which better-sqlite3 binds only by name.
      const set = columns.map(([, column], i) =>
        (alike & (1 << (i + 1))) !== 0 ? `${column} = ?` : `${column} = v.column${++width}`,
      );
      const sql = `UPDATE jobs SET ${set.length === 0 ? 'id = jobs.id' : set.join(', ')}
        FROM (VALUES ${placeholderRows(width, count)}) AS v WHERE jobs.${keyOf(shape)} = v.column1`;
      statement = this.db.prepare<Value[]>(sql);
      this.#updateRows.set(key, statement);
    }
    return statement;
  }

  /**
   * The rows in multi-row INSERTs (64 rows a statement while that many are left, then 32, 16, …):
   * a statement a row cost ~0.8 µs a job more (matrices of 250 legs, WAL file), and values alike in
   * every row of a statement (a matrix's run, key, status, priority, empty outputs, null columns) are
   * bound once. All of them or none: the group commit runs this write in its own savepoint, so a
   * failing statement leaves no row.
   *
   * Returns the seq the first row took, the others' following it: SQLite gives a row without one the
   * greatest seq in the table plus one, row after row, in the rows' order (unless the greatest is the
   * largest 64-bit integer: then undefined, as the seqs read after do not follow on).
   */
  #insertAll(all: readonly NewJob[], rows: ReadonlyMap<string, Value[]>): number | undefined {
    // The engine adds one run's jobs at a time: its first job's run stands for the others unless they differ.
    let checked: string | undefined;
    for (const { runId } of all) {
      if (runId === checked) continue;
      this.fence.check(runId);
      checked = runId;
    }
    // A run id no store issues fails its job where a row-by-row insert would: after the rows before it.
    const unknownRun = all.findIndex(
      (job) => rows.get(job.id) === undefined || runKey(job.runId) === undefined,
    );
    const jobs = unknownRun === -1 ? all : all.slice(0, unknownRun);
    const count = jobs.length;
    const values = new Array<Value>(count * rowWidth);
    let at = 0;
    for (const job of jobs) {
      const row = rows.get(job.id) ?? [];
      row[1] = runKey(job.runId) ?? null;
      for (let column = 0; column < rowWidth; column++) values[at++] = row[column] ?? null;
    }
    const before = this.#lastSeq.get() ?? 0;
    runInChunks(
      values,
      count,
      rowWidth,
      (rows, alike) => this.#insertStatement(rows, alike),
      (inserted, error) => this.#insertError(jobs, inserted, error),
    );
    const unknown = all[unknownRun];
    if (unknown !== undefined) throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${unknown.runId}`);
    return this.#lastSeq.get() === before + count ? before + 1 : undefined;
  }

  /** By `alike` × 128 + rows (rows ≤ 64): a statement prepared once. */
  #insertStatement(rows: number, alike: number): Database.Statement<Value[]> {
    const key = alike * 128 + rows;
    let statement = this.#insertRows.get(key);
    if (statement === undefined) {
      statement = this.db.prepare<Value[]>(insertRowsSql('jobs', insertColumns, rows, alike));
      this.#insertRows.set(key, statement);
    }
    return statement;
  }

  /**
   * The error of an insert of `jobs` that failed after their first `inserted` rows went in, naming the
   * job at fault as an insert of each row in turn would have: the first one after those whose id is
   * taken (by a stored job, or by an earlier job of the batch) or whose run does not exist. SQLite
   * reports a taken id at its row but a missing run only at the end of the statement, so the code it
   * gives does not tell which job of a statement comes first.
   */
  #insertError(jobs: readonly NewJob[], inserted: number, error: unknown): unknown {
    const code = sqliteCode(error);
    if (code !== 'SQLITE_CONSTRAINT_FOREIGNKEY' && code !== 'SQLITE_CONSTRAINT_UNIQUE') return error;
    const earlier = new Set(jobs.slice(0, inserted).map(({ id }) => id));
    for (const job of jobs.slice(inserted)) {
      if (earlier.has(job.id) || this.#logRows.hasJob(job.id))
        return new ValkyrieError('VK_STORE', `job ${job.id} already exists`, { cause: error });
      if (this.#runExists.get(runKey(job.runId) ?? 0) === undefined)
        return new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${job.runId}`, { cause: error });
      earlier.add(job.id);
    }
    return error;
  }

  /** By `seq` when known, else by `id`. */
  #setColumns(id: JobId, patch: JobPatch, seq: number | undefined): Database.RunResult {
    const shape = seq === undefined ? shapeOf(patch) : shapeOf(patch) | bySeq;
    const values: Value[] = [];
    pushSetValues(patch, values);
    values.push(seq ?? id);
    let statement = this.#updateColumns.get(shape);
    if (statement === undefined) {
      const set = columnsOf(shape).map(([, column]) => `${column} = ?`);
      // An empty patch changes nothing, but still says whether the job exists.
      const sql = `UPDATE jobs SET ${set.length === 0 ? 'id = id' : set.join(', ')} WHERE ${keyOf(shape)} = ?`;
      statement = this.db.prepare<Value[]>(sql);
      this.#updateColumns.set(shape, statement);
    }
    return statement.run(...values);
  }

  #startNext(id: JobId, patch: JobPatch): Database.RunResult {
    return this.#startAttempt.run({
      id,
      status: nullable(patch.status),
      startedAt: nullable(patch.startedAt),
      finishedAt: nullable(patch.finishedAt),
      outputs: patch.outputs === undefined ? null : jsonOf(patch.outputs),
      reason: nullable(patch.reason),
      attempt: nullable(patch.attempt),
      name: nullable(patch.name),
      matrix: patch.matrix === undefined ? null : jsonOf(patch.matrix),
      queuedAt: nullable(patch.queuedAt),
      notBefore: nullable(patch.notBefore),
      priority: nullable(patch.priority),
      runner: patch.runner === undefined ? null : jobRunnerJson(patch.runner),
      fencingToken: nullable(patch.fencingToken),
      triesFrom: nullable(patch.triesFrom),
      continuedOnError: patch.continuedOnError === undefined ? null : 1,
    });
  }
}

/**
 * The rows of one shape in an updateJobs write, each its id and then its values, flat: in chunks of
 * maxRowsPerStatement rows, `count` of them in the last.
 */
interface ShapeRows {
  readonly full: Value[][];
  last: Value[];
  count: number;
}

/** The column a statement of `shape` finds its rows by. */
function keyOf(shape: number): 'seq' | 'id' {
  return (shape & bySeq) === 0 ? 'id' : 'seq';
}

function ignore(): void {}
