import type Database from 'better-sqlite3';
import { ValkyrieError } from '../../core/errors.js';
import type { RunId } from '../../core/ids.js';
import {
  type ClaimOutcome,
  handoffOf,
  type ReopenableStatus,
  type ReopenOutcome,
  type RerunAdmission,
  type ResumableRun,
  type RunOwner,
  type RunOwnership,
  type RunRecoveryStore,
  releaseOf,
  type StoredRunRequest,
} from '../recovery.js';
import { RunTakenOverError } from '../run-fence.js';
import { queueFullOf, unfinishedJobsSql } from '../submissions.js';
import { runIdOf, runKey } from './columns.js';
import { type GroupCommit, oneStatement } from './group-commit.js';
import type { SqliteRunFence } from './run-fence.js';

interface ResumableRow {
  workflow_source: string | null;
  run_request: string | null;
  owner_host: string | null;
  owner_pid: number | null;
  heartbeat_at: number | null;
  handoff_to: string | null;
  handed_off_at: number | null;
  released_at: number | null;
}

/** RunRecoveryStore on the shared connection: columns of the runs table, written through group commits. */
export class SqliteRunRecoveryStore implements RunRecoveryStore {
  readonly #save;
  readonly #runExists;
  readonly #heartbeat;
  readonly #get;
  readonly #unfinishedBundles;
  readonly #claim;
  readonly #handOff;
  readonly #release;
  readonly #markGivenUp;
  readonly #countTakeover;
  readonly #reopen;
  readonly #runStatus;
  readonly #countUnfinished;
  readonly #markRerunJobs;
  readonly #requestCancel;
  readonly #db: Database.Database;

  constructor(
    db: Database.Database,
    private readonly commits: GroupCommit,
    private readonly fence: SqliteRunFence,
  ) {
    this.#db = db;
    this.#save = db.prepare<[string, string, string, number, number, number, string, number]>(
      // Only a run without an owner, or this one's: a late save must not take back a run claimed since.
      `UPDATE runs SET workflow_source = ?, run_request = ?, owner_host = ?, owner_pid = ?, heartbeat_at = ?
       WHERE id = ? AND (owner_host IS NULL OR (owner_host = ? AND owner_pid = ?))`,
    );
    this.#runExists = db.prepare<[number], number>('SELECT 1 FROM runs WHERE id = ?').pluck();
    this.#heartbeat = db.prepare<[number, number, string, number]>(
      `UPDATE runs SET heartbeat_at = ? WHERE id = ? AND owner_host = ? AND owner_pid = ? AND handoff_to IS NULL
       AND released_at IS NULL`,
    );
    this.#get = db.prepare<[number], ResumableRow>(
      `SELECT workflow_source, run_request, owner_host, owner_pid, heartbeat_at, handoff_to, handed_off_at,
       released_at FROM runs WHERE id = ?`,
    );
    // The partial index runs_unfinished finds the rows; json_extract reads the one field in SQLite.
    this.#unfinishedBundles = db
      .prepare<[], string>(
        `SELECT DISTINCT json_extract(run_request, '$.bundle') FROM runs
         WHERE status IN ('queued', 'running') AND json_extract(run_request, '$.bundle') IS NOT NULL`,
      )
      .pluck();
    // `IS` compares NULLs as equal, so a run that never had an owner can be claimed with `expected` absent.
    this.#claim = db.prepare<[string, number, number, number, string | null, number | null, number | null]>(
      `UPDATE runs SET owner_host = ?, owner_pid = ?, heartbeat_at = ?, handoff_to = NULL, released_at = NULL
       WHERE id = ? AND status IN ('queued', 'running')
         AND owner_host IS ? AND owner_pid IS ? AND heartbeat_at IS ?`,
    );
    this.#handOff = db.prepare<[string, number, number, number, string, number, number]>(
      `UPDATE runs SET handoff_to = ?, handed_off_at = ?, heartbeat_at = ?
       WHERE id = ? AND status IN ('queued', 'running') AND owner_host = ? AND owner_pid = ?
         AND handoff_to IS NULL AND released_at IS NULL AND (handed_off_at IS NULL OR handed_off_at <= ?)`,
    );
    this.#release = db.prepare<[number, number, number, string, number]>(
      `UPDATE runs SET released_at = ?, heartbeat_at = ?
       WHERE id = ? AND status IN ('queued', 'running') AND owner_host = ? AND owner_pid = ?
         AND handoff_to IS NULL AND released_at IS NULL`,
    );
    this.#markGivenUp = db.prepare<[number, string, number, number]>(
      `UPDATE runs SET given_up = 1 WHERE id = ? AND status IN ('queued', 'running')
         AND owner_host = ? AND owner_pid = ? AND heartbeat_at <= ?`,
    );
    // given_up is 0 or 1: the count grows, or starts at 1, only after a give-up. A NULL (no takeover
    // counted yet) equals nothing.
    this.#countTakeover = db
      .prepare<[number, number, number], number>(
        `UPDATE runs SET takeovers = CASE WHEN takeover_finished_jobs = ? THEN takeovers + given_up ELSE given_up END,
         takeover_finished_jobs = ?, given_up = 0 WHERE id = ? RETURNING takeovers`,
      )
      .pluck();
    this.#reopen = db.prepare<[string, number, number, number, number, string]>(
      `UPDATE runs SET status = 'running', finished_at = NULL, attempt = attempt + 1, cancel_requested_at = NULL,
       cancel_requester = NULL, takeovers = 0, takeover_finished_jobs = NULL, given_up = 0, owner_host = ?, owner_pid = ?, heartbeat_at = ?,
       started_at = ?, handoff_to = NULL, released_at = NULL WHERE id = ? AND status = ?`,
    );
    this.#runStatus = db.prepare<[number], string>('SELECT status FROM runs WHERE id = ?').pluck();
    this.#countUnfinished = db.prepare<[], number>(unfinishedJobsSql('max')).pluck();
    // Every job of the run: a mark left by an earlier re-run that never planned its job (cancelled
    // first) would count a job this one keeps.
    this.#markRerunJobs = db.prepare<[string, number]>(
      `UPDATE jobs SET rerun_attempt = CASE WHEN id IN (SELECT value FROM json_each(?)) THEN attempt END
       WHERE run_id = ?`,
    );
    this.#requestCancel = db.prepare<[string | null, number, number]>(
      `UPDATE runs SET cancel_requester = CASE WHEN cancel_requested_at IS NULL THEN ? ELSE cancel_requester END,
       cancel_requested_at = coalesce(cancel_requested_at, ?)
       WHERE id = ? AND status IN ('queued', 'running')`,
    );
  }

  saveResumable(runId: RunId, run: Omit<ResumableRun, 'ownership'>, ownership: RunOwnership): Promise<void> {
    return this.commits.write(`save run ${runId} for resuming`, () => {
      const key = runKey(runId);
      this.fence.forget(runId);
      const { owner, heartbeatAt } = ownership;
      const args = [run.source, JSON.stringify(run.request), owner.host, owner.pid, heartbeatAt] as const;
      if (key === undefined) throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${runId}`);
      if (this.#save.run(...args, key, owner.host, owner.pid).changes > 0) return;
      if (this.#runExists.get(key) !== undefined) throw new RunTakenOverError([runId]);
      throw new ValkyrieError('VK_RUN_NOT_FOUND', `no run with id ${runId}`);
    });
  }

  heartbeat(runId: RunId, owner: RunOwner, at: number): Promise<boolean> {
    return this.commits.write(`record the heartbeat of run ${runId}`, () => {
      const key = runKey(runId);
      return key !== undefined && this.#heartbeat.run(at, key, owner.host, owner.pid).changes > 0;
    });
  }

  getResumable(runId: RunId): Promise<ResumableRun | undefined> {
    return this.commits.read(`read run ${runId} for resuming`, () => {
      const key = runKey(runId);
      const row = key === undefined ? undefined : this.#get.get(key);
      if (row?.workflow_source == null || row.run_request === null) return undefined;
      const ownership = ownershipOf(row);
      return {
        source: row.workflow_source,
        request: JSON.parse(row.run_request) as StoredRunRequest,
        ...(ownership && { ownership }),
      };
    });
  }

  unfinishedRunBundles(): Promise<Set<string>> {
    return this.commits.read(
      'read the bundles of unfinished runs',
      () => new Set(this.#unfinishedBundles.all()),
    );
  }

  ownerships(runIds: readonly RunId[]): Promise<Map<RunId, RunOwnership>> {
    return this.commits.read('read run owners', () => {
      const keys = runIds.map(runKey).filter((key): key is number => key !== undefined);
      const found = new Map<RunId, RunOwnership>();
      if (keys.length === 0) return found;
      const rows = this.#db
        .prepare<number[], ResumableRow & { id: number }>(
          `SELECT id, NULL AS workflow_source, NULL AS run_request, owner_host, owner_pid, heartbeat_at,
           handoff_to, handed_off_at, released_at FROM runs WHERE id IN (${keys.map(() => '?').join(', ')})`,
        )
        .all(...keys);
      for (const row of rows) {
        const ownership = ownershipOf(row);
        if (ownership) found.set(runIdOf(row.id), ownership);
      }
      return found;
    });
  }

  claim(runId: RunId, expected: RunOwnership | undefined, next: RunOwnership): Promise<ClaimOutcome> {
    return this.commits.write(`claim run ${runId}`, (): ClaimOutcome => {
      const key = runKey(runId);
      this.fence.forget(runId);
      if (key === undefined) return { kind: 'lost' };
      const { changes } = this.#claim.run(
        next.owner.host,
        next.owner.pid,
        next.heartbeatAt,
        key,
        expected?.owner.host ?? null,
        expected?.owner.pid ?? null,
        expected?.heartbeatAt ?? null,
      );
      return changes > 0 ? { kind: 'claimed' } : { kind: 'lost' };
    });
  }

  handOff(runId: RunId, owner: RunOwner, to: string, at: number, floorMs: number): Promise<boolean> {
    return this.commits.write(
      `hand run ${runId} off`,
      () => {
        const key = runKey(runId);
        if (key === undefined) return false;
        return this.#handOff.run(to, at, at, key, owner.host, owner.pid, at - floorMs).changes > 0;
      },
      oneStatement,
    );
  }

  release(runId: RunId, owner: RunOwner, at: number): Promise<boolean> {
    return this.commits.write(
      `release run ${runId}`,
      () => {
        const key = runKey(runId);
        return key !== undefined && this.#release.run(at, at, key, owner.host, owner.pid).changes > 0;
      },
      oneStatement,
    );
  }

  markGivenUp(runId: RunId, owner: RunOwner, stoppedAt: number): Promise<boolean> {
    return this.commits.write(
      `mark run ${runId} given up`,
      () => {
        const key = runKey(runId);
        return key !== undefined && this.#markGivenUp.run(key, owner.host, owner.pid, stoppedAt).changes > 0;
      },
      oneStatement,
    );
  }

  countTakeover(runId: RunId, finishedJobs: number): Promise<number> {
    return this.commits.write(
      `count a takeover of run ${runId}`,
      () => {
        const key = runKey(runId);
        return key === undefined ? 0 : (this.#countTakeover.get(finishedJobs, finishedJobs, key) ?? 0);
      },
      oneStatement,
    );
  }

  reopen(
    runId: RunId,
    expected: ReopenableStatus,
    next: RunOwnership,
    admission: RerunAdmission = { jobIds: [] },
  ): Promise<ReopenOutcome> {
    // Inside the group commit's IMMEDIATE transaction, as submitRun: no other process writes between
    // the count and the reopen, and a refusal has written nothing.
    return this.commits.write(`reopen run ${runId}`, (): ReopenOutcome => {
      const key = runKey(runId);
      this.fence.forget(runId);
      if (key === undefined || this.#runStatus.get(key) !== expected) return { kind: 'lost' };
      const capacity = admission.queueCapacity;
      const full =
        capacity === undefined
          ? undefined
          : queueFullOf(admission.jobIds.length, capacity, this.#countUnfinished.get() ?? 0);
      if (full !== undefined) return full;
      const { host, pid } = next.owner;
      const { changes } = this.#reopen.run(host, pid, next.heartbeatAt, next.heartbeatAt, key, expected);
      if (changes === 0) return { kind: 'lost' };
      this.#markRerunJobs.run(JSON.stringify(admission.jobIds), key);
      return { kind: 'claimed' };
    });
  }

  requestCancel(runId: RunId, at: number, requester?: string): Promise<boolean> {
    return this.commits.write(`request cancel of run ${runId}`, () => {
      const key = runKey(runId);
      return key !== undefined && this.#requestCancel.run(requester ?? null, at, key).changes > 0;
    });
  }

  cancelRequests(runIds: readonly RunId[]): Promise<Map<RunId, string | undefined>> {
    return this.commits.read('read cancel requests', () => {
      const keys = runIds.map(runKey).filter((key): key is number => key !== undefined);
      const requests = new Map<RunId, string | undefined>();
      if (keys.length === 0) return requests;
      const rows = this.#db
        .prepare<number[], { id: number; cancel_requester: string | null }>(
          `SELECT id, cancel_requester FROM runs WHERE id IN (${keys.map(() => '?').join(', ')})
           AND cancel_requested_at IS NOT NULL AND status IN ('queued', 'running')`,
        )
        .all(...keys);
      for (const row of rows) requests.set(runIdOf(row.id), row.cancel_requester ?? undefined);
      return requests;
    });
  }
}

function ownershipOf(row: ResumableRow): RunOwnership | undefined {
  if (row.owner_host === null || row.owner_pid === null || row.heartbeat_at === null) return undefined;
  return {
    owner: { host: row.owner_host, pid: row.owner_pid },
    heartbeatAt: row.heartbeat_at,
    ...handoffOf(row.handoff_to, row.heartbeat_at, row.handed_off_at),
    ...releaseOf(row.released_at, row.heartbeat_at),
  };
}
