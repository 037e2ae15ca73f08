import { ValkyrieError } from '../../core/errors.js';
import type { JobId } from '../../core/ids.js';
import type { JobPatch, JobUpdate } from '../runs.js';
import type { PostgresDatabase, Query, Statement } from './database.js';
import { updateJobRows } from './job-updates.js';

const lockJobs: Statement = {
  name: 'vk_lock_jobs',
  text: 'SELECT id FROM jobs WHERE id = ANY($1::text[]) FOR UPDATE',
};

/** An updateJobs write requested but not started: its calls, each all or nothing, in order. */
interface OpenWrite {
  readonly calls: (readonly JobUpdate[])[];
  /** PostgresDatabase.writeMark right after the write was requested. */
  mark: number | undefined;
  /** Each call's own failure, by index, once the write has committed. */
  done: Promise<readonly (ValkyrieError | undefined)[]>;
}

/**
 * RunStore.updateJobs on Postgres. A call made while the previous call's write has not started, with
 * no other write requested since, joins that write: it is applied at the same place in the order, so
 * nothing moves, and a job's patches of the joined calls fold into one row update. The control plane
 * makes a call per turn (queued, then started, then finished), and its calls pile up while a group
 * commit runs: joined, a job's running and finished updates often become one row version and one
 * lock instead of two (10,000 jobs were 120 update and lock statements and ~30,000 row versions).
 *
 * Each call stays all or nothing: every job of the joined calls is locked first; if one is missing,
 * each call that names a missing job fails alone and changes nothing, and the others apply.
 */
export class JobUpdateWrites {
  #open: OpenWrite | undefined;

  constructor(private readonly db: PostgresDatabase) {}

  updateMany(updates: readonly JobUpdate[]): Promise<void> {
    const open = this.#open;
    if (open !== undefined && open.mark !== undefined && open.mark === this.db.writeMark) {
      return settled(open, open.calls.push(updates) - 1);
    }
    const write: OpenWrite = { calls: [updates], mark: undefined, done: Promise.resolve([]) };
    write.done = this.db.transaction('update jobs', (query) => {
      if (this.#open === write) this.#open = undefined;
      return applyCalls(query, write.calls);
    });
    write.mark = this.db.writeMark;
    this.#open = write;
    return settled(write, 0);
  }
}

async function settled(write: OpenWrite, call: number): Promise<void> {
  const failure = (await write.done)[call];
  if (failure !== undefined) throw failure;
}

/** Runs again from the start if the group commit retries the batch; `calls` no longer grows then. */
async function applyCalls(
  query: Query,
  calls: readonly (readonly JobUpdate[])[],
): Promise<(ValkyrieError | undefined)[]> {
  const byJob = foldByJob(calls);
  if (byJob.size === 0) return [];
  const ids = [...byJob.keys()];
  const { rows } = await query<{ id: string }>(lockJobs, [ids]);
  if (rows.length === ids.length) {
    await updateJobRows(query, toUpdates(byJob));
    return [];
  }
  // Locked, the jobs found stay so until the commit: a call is checked against them alone.
  const found = new Set(rows.map(({ id }) => id));
  const failures: (ValkyrieError | undefined)[] = [];
  const applied: (readonly JobUpdate[])[] = [];
  for (const updates of calls) {
    const missing = updates.find(({ id }) => !found.has(id));
    if (missing === undefined) {
      failures.push(undefined);
      applied.push(updates);
    } else failures.push(new ValkyrieError('VK_JOB_NOT_FOUND', `no job with id ${missing.id}`));
  }
  if (applied.length > 0) await updateJobRows(query, toUpdates(foldByJob(applied)));
  return failures;
}

/** Each job's patches, in order, as one patch with the same effect; jobs in order of first update. */
function foldByJob(calls: readonly (readonly JobUpdate[])[]): Map<JobId, JobPatch> {
  const byJob = new Map<JobId, JobPatch>();
  for (const updates of calls) {
    for (const { id, patch } of updates) {
      const earlier = byJob.get(id);
      byJob.set(id, earlier === undefined ? patch : folded(earlier, patch));
    }
  }
  return byJob;
}

/**
 * `earlier` then `later` as one patch. A later attempt clears the times, reason, queue time and
 * not-before of the earlier patches (job-updates.ts); other columns keep the latest value set.
 */
function folded(earlier: JobPatch, later: JobPatch): JobPatch {
  const restarts = later.attempt !== undefined;
  return {
    status: later.status ?? earlier.status,
    startedAt: restarts ? later.startedAt : (later.startedAt ?? earlier.startedAt),
    finishedAt: restarts ? later.finishedAt : (later.finishedAt ?? earlier.finishedAt),
    outputs: later.outputs ?? earlier.outputs,
    reason: restarts ? later.reason : (later.reason ?? earlier.reason),
    attempt: later.attempt ?? earlier.attempt,
    name: later.name ?? earlier.name,
    matrix: later.matrix ?? earlier.matrix,
    queuedAt: restarts ? later.queuedAt : (later.queuedAt ?? earlier.queuedAt),
    notBefore: restarts ? later.notBefore : (later.notBefore ?? earlier.notBefore),
    priority: later.priority ?? earlier.priority,
  };
}

function toUpdates(byJob: Map<JobId, JobPatch>): JobUpdate[] {
  const updates: JobUpdate[] = [];
  for (const [id, patch] of byJob) updates.push({ id, patch });
  return updates;
}
