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
import { queueFullOf } from '../submissions.js';
import { countUnfinishedWith, lockSubmissions } from './admission.js';
import { millis, runIdOf, runKey } from './columns.js';
import type { PostgresDatabase, Statement } from './database.js';
import { cancelChannelSql, type NotificationListener } from './notification-listener.js';
import { runNotWritten } from './run-fence.js';

interface OwnershipRow {
  owner_host: string | null;
  owner_pid: number | null;
  heartbeat_at: string | null;
  handoff_to: string | null;
  handed_off_at: string | null;
  released_at: string | null;
}

interface ResumableRow extends OwnershipRow {
  workflow_source: string | null;
  run_request: StoredRunRequest | null;
}

const statements = {
  save: {
    name: 'vk_save_resumable',
    // Only a run without an owner, or this one's: a late save must not take back a run claimed since.
    text: `UPDATE runs SET workflow_source = $2, run_request = $3::json, owner_host = $4, owner_pid = $5,
           heartbeat_at = $6 WHERE id = $1 AND (owner_host IS NULL OR (owner_host = $4 AND owner_pid = $5))`,
  },
  heartbeat: {
    name: 'vk_heartbeat',
    text: `UPDATE runs SET heartbeat_at = $2 WHERE id = $1 AND owner_host = $3 AND owner_pid = $4
           AND handoff_to IS NULL AND released_at IS NULL`,
  },
  get: {
    name: 'vk_get_resumable',
    text: `SELECT workflow_source, run_request, owner_host, owner_pid, heartbeat_at, handoff_to, handed_off_at,
           released_at FROM runs WHERE id = $1`,
  },
  unfinishedBundles: {
    name: 'vk_unfinished_run_bundles',
    text: `SELECT DISTINCT run_request->>'bundle' AS bundle FROM runs
           WHERE status IN ('queued', 'running') AND run_request->>'bundle' IS NOT NULL`,
  },
  ownerships: {
    name: 'vk_run_ownerships',
    text: `SELECT id, owner_host, owner_pid, heartbeat_at, handoff_to, handed_off_at, released_at FROM runs
           WHERE id = ANY($1::bigint[]) AND heartbeat_at IS NOT NULL`,
  },
  // A single statement: the row lock makes a second claimant re-check the WHERE against the first
  // one's committed values, so it matches nothing.
  claim: {
    name: 'vk_claim_run',
    text: `UPDATE runs SET owner_host = $2, owner_pid = $3, heartbeat_at = $4, handoff_to = NULL, released_at = NULL
           WHERE id = $1 AND status IN ('queued', 'running')
             AND owner_host IS NOT DISTINCT FROM $5::text AND owner_pid IS NOT DISTINCT FROM $6::integer
             AND heartbeat_at IS NOT DISTINCT FROM $7::bigint`,
  },
  handOff: {
    name: 'vk_hand_off_run',
    text: `UPDATE runs SET handoff_to = $4, handed_off_at = $5, heartbeat_at = $5
           WHERE id = $1 AND status IN ('queued', 'running') AND owner_host = $2 AND owner_pid = $3::integer
             AND handoff_to IS NULL AND released_at IS NULL
             AND (handed_off_at IS NULL OR handed_off_at <= $5::bigint - $6::bigint)`,
  },
  release: {
    name: 'vk_release_run',
    text: `UPDATE runs SET released_at = $4, heartbeat_at = $4
           WHERE id = $1 AND status IN ('queued', 'running') AND owner_host = $2 AND owner_pid = $3::integer
             AND handoff_to IS NULL AND released_at IS NULL`,
  },
  markGivenUp: {
    name: 'vk_mark_given_up',
    text: `UPDATE runs SET given_up = true WHERE id = $1 AND status IN ('queued', 'running')
             AND owner_host = $2 AND owner_pid = $3::integer AND heartbeat_at <= $4::bigint`,
  },
  // The count grows, or starts at 1, only after a give-up. A NULL (no takeover counted yet) equals nothing.
  countTakeover: {
    name: 'vk_count_takeover',
    text: `UPDATE runs SET takeovers = CASE WHEN takeover_finished_jobs = $2 THEN takeovers + given_up::integer
             ELSE given_up::integer END,
           takeover_finished_jobs = $2, given_up = false WHERE id = $1 RETURNING takeovers`,
  },
  reopen: {
    name: 'vk_reopen_run',
    text: `UPDATE runs SET status = 'running', finished_at = NULL, attempt = attempt + 1, cancel_requested_at = NULL,
           cancel_requester = NULL, takeovers = 0, takeover_finished_jobs = NULL, given_up = false, owner_host = $2, owner_pid = $3,
           heartbeat_at = $4, started_at = $4, handoff_to = NULL, released_at = NULL WHERE id = $1 AND status = $5`,
  },
  runStatus: { name: 'vk_run_status', text: 'SELECT status FROM runs WHERE id = $1' },
  // Every job of the run: a mark left by an earlier re-run that never planned its job (cancelled
  // first) would count a job this one keeps.
  markRerunJobs: {
    name: 'vk_mark_rerun_jobs',
    text: 'UPDATE jobs SET rerun_attempt = CASE WHEN id = ANY($2::text[]) THEN attempt END WHERE run_id = $1',
  },
  requestCancel: {
    name: 'vk_request_cancel',
    text: `UPDATE runs SET cancel_requester = CASE WHEN cancel_requested_at IS NULL THEN $3 ELSE cancel_requester END,
           cancel_requested_at = coalesce(cancel_requested_at, $2)
           WHERE id = $1 AND status IN ('queued', 'running')`,
  },
  notifyCancel: { name: 'vk_notify_cancel', text: `SELECT pg_notify(${cancelChannelSql}, '')` },
  cancelRequests: {
    name: 'vk_cancel_requests',
    text: `SELECT id, cancel_requester FROM runs WHERE id = ANY($1::bigint[])
           AND cancel_requested_at IS NOT NULL AND status IN ('queued', 'running')`,
  },
} satisfies Record<string, Statement>;

/** RunRecoveryStore on the shared pool: columns of the runs table. */
export class PostgresRunRecoveryStore implements RunRecoveryStore {
  readonly #db: PostgresDatabase;
  readonly #listener: NotificationListener;

  constructor(db: PostgresDatabase, listener: NotificationListener) {
    this.#db = db;
    this.#listener = listener;
  }

  saveResumable(runId: RunId, run: Omit<ResumableRun, 'ownership'>, ownership: RunOwnership): Promise<void> {
    return this.#db.write(`save run ${runId} for resuming`, async (query) => {
      const key = runKey(runId);
      const { owner, heartbeatAt } = ownership;
      const changed =
        key !== undefined &&
        (
          await query(statements.save, [
            key,
            run.source,
            JSON.stringify(run.request),
            owner.host,
            owner.pid,
            heartbeatAt,
          ])
        ).rowCount !== 0;
      if (!changed) await runNotWritten(query, runId, key);
    });
  }

  heartbeat(runId: RunId, owner: RunOwner, at: number): Promise<boolean> {
    return this.#db.write(`record the heartbeat of run ${runId}`, async (query) => {
      const key = runKey(runId);
      if (key === undefined) return false;
      const { rowCount } = await query(statements.heartbeat, [key, at, owner.host, owner.pid]);
      return rowCount !== 0;
    });
  }

  getResumable(runId: RunId): Promise<ResumableRun | undefined> {
    return this.#db.read(`read run ${runId} for resuming`, async (query) => {
      const key = runKey(runId);
      if (key === undefined) return undefined;
      const row = (await query<ResumableRow>(statements.get, [key])).rows[0];
      if (row?.workflow_source == null || row.run_request === null) return undefined;
      const ownership = ownershipOf(row);
      return { source: row.workflow_source, request: row.run_request, ...(ownership && { ownership }) };
    });
  }

  unfinishedRunBundles(): Promise<Set<string>> {
    return this.#db.read('read the bundles of unfinished runs', async (query) => {
      const { rows } = await query<{ bundle: string }>(statements.unfinishedBundles, []);
      return new Set(rows.map((row) => row.bundle));
    });
  }

  ownerships(runIds: readonly RunId[]): Promise<Map<RunId, RunOwnership>> {
    return this.#db.read('read run owners', async (query) => {
      const keys = runIds.map(runKey).filter((key): key is string => key !== undefined);
      const found = new Map<RunId, RunOwnership>();
      if (keys.length === 0) return found;
      const { rows } = await query<OwnershipRow & { id: string }>(statements.ownerships, [keys]);
      for (const row of rows) {
        const ownership = ownershipOf(row);
        if (ownership) found.set(runIdOf(row.id), ownership);
      }
      return found;
    });
  }

  claim(runId: RunId, expected: RunOwnership | undefined, next: RunOwnership): Promise<ClaimOutcome> {
    return this.#db.write(`claim run ${runId}`, async (query): Promise<ClaimOutcome> => {
      const key = runKey(runId);
      if (key === undefined) return { kind: 'lost' };
      const { rowCount } = await query(statements.claim, [
        key,
        next.owner.host,
        next.owner.pid,
        next.heartbeatAt,
        expected?.owner.host ?? null,
        expected?.owner.pid ?? null,
        expected?.heartbeatAt ?? null,
      ]);
      return rowCount !== 0 ? { kind: 'claimed' } : { kind: 'lost' };
    });
  }

  handOff(runId: RunId, owner: RunOwner, to: string, at: number, floorMs: number): Promise<boolean> {
    return this.#db.write(`hand run ${runId} off`, async (query) => {
      const key = runKey(runId);
      if (key === undefined) return false;
      const { rowCount } = await query(statements.handOff, [key, owner.host, owner.pid, to, at, floorMs]);
      return (rowCount ?? 0) > 0;
    });
  }

  release(runId: RunId, owner: RunOwner, at: number): Promise<boolean> {
    return this.#db.write(`release run ${runId}`, async (query) => {
      const key = runKey(runId);
      if (key === undefined) return false;
      const { rowCount } = await query(statements.release, [key, owner.host, owner.pid, at]);
      return (rowCount ?? 0) > 0;
    });
  }

  markGivenUp(runId: RunId, owner: RunOwner, stoppedAt: number): Promise<boolean> {
    return this.#db.write(`mark run ${runId} given up`, async (query) => {
      const key = runKey(runId);
      if (key === undefined) return false;
      const { rowCount } = await query(statements.markGivenUp, [key, owner.host, owner.pid, stoppedAt]);
      return (rowCount ?? 0) > 0;
    });
  }

  countTakeover(runId: RunId, finishedJobs: number): Promise<number> {
    return this.#db.write(`count a takeover of run ${runId}`, async (query) => {
      const key = runKey(runId);
      if (key === undefined) return 0;
      const { rows } = await query<{ takeovers: number }>(statements.countTakeover, [key, finishedJobs]);
      return rows[0]?.takeovers ?? 0;
    });
  }

  reopen(
    runId: RunId,
    expected: ReopenableStatus,
    next: RunOwnership,
    admission: RerunAdmission = { jobIds: [] },
  ): Promise<ReopenOutcome> {
    // Under the submission lock, as submitRun: of a re-run and a submission (or two re-runs) racing
    // for the last places, the one that takes the lock second counts the other's jobs.
    return this.#db.transaction(`reopen run ${runId}`, async (query): Promise<ReopenOutcome> => {
      const key = runKey(runId);
      if (key === undefined) return { kind: 'lost' };
      await lockSubmissions(query);
      const { rows } = await query<{ status: string }>(statements.runStatus, [key]);
      if (rows[0]?.status !== expected) return { kind: 'lost' };
      const capacity = admission.queueCapacity;
      const full =
        capacity === undefined
          ? undefined
          : queueFullOf(admission.jobIds.length, capacity, await countUnfinishedWith(query));
      if (full !== undefined) return full;
      const { host, pid } = next.owner;
      const { rowCount } = await query(statements.reopen, [key, host, pid, next.heartbeatAt, expected]);
      if (rowCount === 0) return { kind: 'lost' };
      await query(statements.markRerunJobs, [key, admission.jobIds]);
      return { kind: 'claimed' };
    });
  }

  requestCancel(runId: RunId, at: number, requester?: string): Promise<boolean> {
    return this.#db.write(
      `request cancel of run ${runId}`,
      async (query) => {
        const key = runKey(runId);
        if (key === undefined) return false;
        if ((await query(statements.requestCancel, [key, at, requester ?? null])).rowCount === 0)
          return false;
        // Delivered when this write commits, to the driver's listener in whichever process it runs;
        // atomic, so that no request is stored without its notification, even when it runs alone.
        await query(statements.notifyCancel, []);
        return true;
      },
      { atomic: true },
    );
  }

  onCancelRequested(listener: () => void): () => void {
    // Until the LISTEN connection is up (or while it is down), the driver's polling finds requests.
    return this.#listener.onCancel(listener);
  }

  cancelRequests(runIds: readonly RunId[]): Promise<Map<RunId, string | undefined>> {
    return this.#db.read('read cancel requests', async (query) => {
      const keys = runIds.map(runKey).filter((key): key is string => key !== undefined);
      const requests = new Map<RunId, string | undefined>();
      if (keys.length === 0) return requests;
      const { rows } = await query<{ id: string; cancel_requester: string | null }>(
        statements.cancelRequests,
        [keys],
      );
      for (const row of rows) requests.set(runIdOf(row.id), row.cancel_requester ?? undefined);
      return requests;
    });
  }
}

function ownershipOf(row: OwnershipRow): RunOwnership | undefined {
  if (row.owner_host === null || row.owner_pid === null || row.heartbeat_at === null) return undefined;
  const heartbeatAt = millis(row.heartbeat_at);
  return {
    owner: { host: row.owner_host, pid: row.owner_pid },
    heartbeatAt,
    ...handoffOf(row.handoff_to, heartbeatAt, row.handed_off_at === null ? null : millis(row.handed_off_at)),
    ...releaseOf(row.released_at === null ? null : millis(row.released_at), heartbeatAt),
  };
}
