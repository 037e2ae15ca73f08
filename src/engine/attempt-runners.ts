import { createHash } from 'node:crypto';
import { type RunId, runIdOfJob } from '../core/ids.js';
import { isTerminal, type JobOutcome, jobStatusOf, type TerminalJobStatus } from '../core/outcome.js';
import type { RunStore } from '../store/runs.js';

/** The most runs one lookup reads: a runner rarely holds jobs of more when its server restarts. */
export const maxRunsRead = 64;

/** What the store says of a job a runner started an attempt of. */
export interface RanJob {
  /**
   * When the job's latest attempt is the runner's and has ended: the completionKey of that end under
   * the attempt's fencing token, so that the runner's `job.completed` sent again is known for a copy.
   */
  readonly ended?: string;
}

/**
 * Which of `jobIds` the store says runner `runnerId` started an attempt of: the job's row names it
 * (its latest attempt), or one of the job's ended attempts does. A job id that names no stored job
 * (ids are `<runId>.<ordinal>`) is not among them.
 *
 * One listJobs per run the ids name (a resume lists any number of one run's jobs), up to `maxRunsRead`
 * runs, and listJobAttempts only for a job past its first attempt whose row names another runner.
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
      if (job.runner?.id === runnerId) {
        const { status, fencingToken, reason, outputs } = job;
        const ended =
          isTerminal(status) && fencingToken !== undefined
            ? completionKey(fencingToken, status, reason, outputs)
            : undefined;
        ran.set(job.id, ended === undefined ? {} : { ended });
      } else if ((job.attempt ?? 1) > 1) {
        const attempts = await runs.listJobAttempts(job.id);
        if (attempts.some((attempt) => attempt.runner?.id === runnerId)) ran.set(job.id, {});
      }
    }
  }
  return ran;
}

/**
 * A job's end under a lease, as a short digest: the token, the status, the reason and the outputs —
 * what the control plane stores of a `job.completed` it applies (ControlPlane.jobCompleted). A copy
 * of an applied completion has its stored end's key; any other end under the token has another.
 */
export function completionKey(
  fencingToken: number,
  status: TerminalJobStatus,
  reason: string | undefined,
  outputs: Readonly<Record<string, string>>,
): string {
  const sorted = Object.entries(outputs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const text = JSON.stringify([fencingToken, status, reason ?? null, sorted]);
  return createHash('sha256').update(text).digest('base64url');
}

/** completionKey of the end a runner's `job.completed` reports. */
export function completionKeyOf(message: {
  readonly fencingToken: number;
  readonly outcome: JobOutcome;
  readonly outputs: Readonly<Record<string, string>>;
}): string {
  const { fencingToken, outcome, outputs } = message;
  const reason = 'reason' in outcome ? outcome.reason : undefined;
  return completionKey(fencingToken, jobStatusOf(outcome), reason, outputs);
}
