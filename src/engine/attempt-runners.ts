import { createHash } from 'node:crypto';
import { type RunId, runIdOfJob } from '../core/ids.js';
import { type AttemptStatus, isTerminal, type JobOutcome, jobStatusOf } from '../core/outcome.js';
import type { RunStore } from '../store/runs.js';

/** The most runs one lookup reads: a runner rarely holds jobs of more when its server restarts. */
export const maxRunsRead = 64;

/** An ended attempt's completionKey, and whether it covers the attempt's outputs. */
export interface EndKey {
  readonly key: string;
  /** False for an attempt another one followed: the store keeps no outputs of it. */
  readonly outputs: boolean;
}

/** What the store says of a job a runner started an attempt of. */
export interface RanJob {
  /**
   * The runner's attempts of the job that have ended, by the fencing token of the runner's lease on
   * each: how it ended (EndKey), so that the runner's `job.completed` of one, sent again, is known for
   * a copy — the latest attempt's from the job's row, earlier ones (retried, re-run) from their records.
   */
  readonly ends?: ReadonlyMap<number, EndKey>;
}

/**
 * Which of `jobIds` the store says runner `runnerId` started an attempt of: the job's row names it
 * (its latest attempt), or one of the job's ended attempts does. A job id that names no stored job
 * (ids are `<runId>.<ordinal>`) is not among them.
 *
 * One listJobs per run the ids name (a resume lists any number of one run's jobs), up to `maxRunsRead`
 * runs, and listJobAttempts for each job past its first attempt.
 */
export async function jobsRunBy(
  runs: RunStore,
  runnerId: string,
  jobIds: readonly string[],
): Promise<Map<string, RanJob>> {
  const byRun = new Map<RunId, Set<string>>();
  for (const jobId of jobIds) {
    const runId = runIdOfJob(jobId);
    if (runId === undefined) continue;
    // A forged resume may name thousands of runs (a frame holds ~20,000 ids), each a read of a whole
    // run: past the first `maxRunsRead`, a job counts as not run by this runner, unread.
    if (!byRun.has(runId) && byRun.size === maxRunsRead) continue;
    const listed = byRun.get(runId) ?? new Set<string>();
    listed.add(jobId);
    byRun.set(runId, listed);
  }
  const ran = new Map<string, RanJob>();
  // One run at a time: a resume names few runs, and a forged one must not take the store's whole pool.
  for (const [runId, listed] of byRun) {
    for (const job of await runs.listJobs(runId)) {
      if (!listed.has(job.id)) continue;
      const ends = new Map<number, EndKey>();
      let started = false;
      if ((job.attempt ?? 1) > 1) {
        for (const attempt of await runs.listJobAttempts(job.id)) {
          if (attempt.runner?.id !== runnerId) continue;
          started = true;
          const { fencingToken, status, reason } = attempt;
          if (fencingToken !== undefined)
            ends.set(fencingToken, { key: completionKey(fencingToken, status, reason), outputs: false });
        }
      }
      if (job.runner?.id === runnerId) {
        started = true;
        const { status, fencingToken, reason, outputs } = job;
        if (isTerminal(status) && fencingToken !== undefined)
          ends.set(fencingToken, {
            key: completionKey(fencingToken, status, reason, outputs),
            outputs: true,
          });
      }
      if (started) ran.set(job.id, ends.size === 0 ? {} : { ends });
    }
  }
  return ran;
}

/**
 * A job's end under a lease, as a short digest: the token, the status, the reason and the outputs —
 * what the control plane stores of a `job.completed` it applies (JobLifecycle.jobCompleted). A copy
 * of an applied completion has its stored end's key; any other end under the token has another.
 *
 * Built the same way for a stored end and for a completion: without the reason of a cancelled end
 * (the control plane stores the reason of its own `cancel` over the runner's, LeaseReports.receive,
 * and a process that never saw the lease cannot know it), and without outputs when `outputs` is
 * undefined (an attempt another one followed: the store keeps none of its outputs).
 */
export function completionKey(
  fencingToken: number,
  status: AttemptStatus,
  reason: string | undefined,
  outputs?: Readonly<Record<string, string>>,
): string {
  const sorted =
    outputs === undefined ? null : Object.entries(outputs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const said = status === 'cancelled' ? null : (reason ?? null);
  const text = JSON.stringify([fencingToken, status, said, sorted]);
  return createHash('sha256').update(text).digest('base64url');
}

/** completionKey of the end a runner's `job.completed` reports, built as `stored` was. */
export function completionKeyOf(
  message: {
    readonly fencingToken: number;
    readonly outcome: JobOutcome;
    readonly outputs: Readonly<Record<string, string>>;
  },
  stored: Pick<EndKey, 'outputs'>,
): string {
  const { fencingToken, outcome, outputs } = message;
  const reason = 'reason' in outcome ? outcome.reason : undefined;
  return completionKey(fencingToken, jobStatusOf(outcome), reason, stored.outputs ? outputs : undefined);
}
