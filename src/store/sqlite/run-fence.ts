import type Database from 'better-sqlite3';
import { lastDotOf, type RunId, runIdOfJob } from '../../core/ids.js';
import type { LogLine } from '../logs.js';
import type { RunOwner } from '../recovery.js';
import { RunTakenOverError, writableBy } from '../run-fence.js';
import type { JobUpdate } from '../runs.js';
import { runKey } from './columns.js';
import type { GroupCommit } from './group-commit.js';

interface OwnerRow {
  owner_host: string | null;
  owner_pid: number | null;
}

/** A call's updates and lines without those of runs another process owns, and which runs those are. */
export interface Kept {
  readonly updates: readonly JobUpdate[];
  readonly lines: readonly LogLine[];
  readonly refused: readonly RunId[] | undefined;
}

/**
 * The run fence (store/run-fence.ts) on one connection. Called inside a write's work, so inside the
 * group commit's IMMEDIATE transaction: no other process can claim a run between the check and the
 * write. A run found writable is remembered until the batch ends, so a batch reads each run's owner
 * once, whatever number of writes it makes of the run's jobs (~1 µs a read).
 */
export class SqliteRunFence {
  readonly #owner;
  readonly #writable = new Set<RunId>();
  /** The run last found writable in this batch: a job id of it is checked without slicing out its run id. */
  #last = '';
  #batch = -1;

  constructor(
    db: Database.Database,
    private readonly commits: GroupCommit,
    private readonly writer: RunOwner,
  ) {
    this.#owner = db.prepare<[number], OwnerRow>('SELECT owner_host, owner_pid FROM runs WHERE id = ?');
  }

  /** Throws RunTakenOverError when another process owns the run; a run not stored passes (the write finds it missing). */
  check(runId: RunId | undefined): void {
    if (runId !== undefined && !this.writable(runId)) throw new RunTakenOverError([runId]);
  }

  /** check() of the run of a job id (`<runId>.<ordinal>`); an id of no such form names no run. */
  checkJob(jobId: string): void {
    const last = this.#last;
    const dot = lastDotOf(jobId);
    if (dot === last.length && dot > 0 && this.#batch === this.commits.batchNumber && jobId.startsWith(last))
      return;
    const runId = runIdOfJob(jobId);
    this.check(runId);
    if (runId !== undefined) this.#last = runId;
  }

  /** The run's owner changed in this batch (a claim, reopen or save through this connection). */
  forget(runId: RunId): void {
    this.#writable.delete(runId);
    this.#last = '';
  }

  /**
   * The updates and lines of runs this writer may write: the same arrays when that is all of them
   * (the usual case, without allocating).
   */
  keep(updates: readonly JobUpdate[], lines: readonly LogLine[]): Kept {
    let refused: Set<RunId> | undefined;
    let lastRun = '';
    const visit = (jobId: string) => {
      // Consecutive jobs are mostly of one run: compare the prefix before slicing out a run id.
      const dot = lastDotOf(jobId);
      if (dot === lastRun.length && dot > 0 && jobId.startsWith(lastRun)) return;
      const runId = runIdOfJob(jobId);
      if (runId === undefined) return;
      lastRun = runId;
      if (this.writable(runId)) return;
      refused ??= new Set();
      refused.add(runId);
    };
    for (const { id } of updates) visit(id);
    for (const { jobId } of lines) visit(jobId);
    if (refused === undefined) return { updates, lines, refused: undefined };
    const taken = refused;
    const ours = (jobId: string) => !taken.has(runIdOfJob(jobId) ?? ('' as RunId));
    return {
      updates: updates.filter(({ id }) => ours(id)),
      lines: lines.filter(({ jobId }) => ours(jobId)),
      refused: [...taken],
    };
  }

  private writable(runId: RunId): boolean {
    if (this.#batch !== this.commits.batchNumber) {
      this.#batch = this.commits.batchNumber;
      this.#writable.clear();
      this.#last = '';
    }
    if (this.#writable.has(runId)) return true;
    const key = runKey(runId);
    const row = key === undefined ? undefined : this.#owner.get(key);
    if (row !== undefined && !writableBy(this.writer, row.owner_host, row.owner_pid)) return false;
    this.#writable.add(runId);
    return true;
  }
}

/** Rejects with RunTakenOverError once a write that left refused runs out has committed the rest. */
export function refusedAfter(refused: readonly RunId[] | undefined): void {
  if (refused !== undefined) throw new RunTakenOverError(refused);
}
