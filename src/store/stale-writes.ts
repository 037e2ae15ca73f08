import type { JobId } from '../core/ids.js';

/** A runner message under a lease that the control plane refused because its fencing token was stale. */
export interface StaleWrite {
  readonly jobId: JobId;
  /** The token the message carried. */
  readonly fencingToken: number;
  /** The job's live lease token when the message arrived; absent when the job had no live lease. */
  readonly currentToken?: number;
  /** The refused message's type, e.g. `job.completed`. */
  readonly messageType: string;
  /** epoch milliseconds, the control plane's clock */
  readonly at: number;
  /** The runner that sent it (its id, across its sessions); absent in records kept before it was. */
  readonly runnerId?: string;
}

/**
 * The audit trail of refused stale writes (VK_STALE_LEASE), so that a zombie runner's late results are
 * visible after the fact. Append-only; calls are applied in the order they are made (also without
 * waiting for each), and `list` sees every `record` made before it. The job need not exist: a runner
 * may name any job id, and the refusal is still worth keeping.
 */
export interface StaleWriteStore {
  record(write: StaleWrite): Promise<void>;
  /**
   * In the order recorded; only `jobId`'s when given, only those of the jobs of `jobIds` (a run's
   * jobs, in one read) when that is given.
   */
  list(options?: { jobId?: JobId; jobIds?: readonly JobId[] }): Promise<StaleWrite[]>;
}

/** The stale writes of `jobs` (a run's), read in one `list`, by job id, each job's in recorded order. */
export async function staleWritesByJob(
  store: StaleWriteStore,
  jobs: readonly { readonly id: JobId }[],
): Promise<Map<string, StaleWrite[]>> {
  const byJob = new Map<string, StaleWrite[]>();
  if (jobs.length === 0) return byJob;
  for (const write of await store.list({ jobIds: jobs.map((job) => job.id) })) {
    const writes = byJob.get(write.jobId);
    if (writes === undefined) byJob.set(write.jobId, [write]);
    else writes.push(write);
  }
  return byJob;
}
