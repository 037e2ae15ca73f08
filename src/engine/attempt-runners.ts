import { type RunId, runIdOfJob } from '../core/ids.js';
import type { RunStore } from '../store/runs.js';

/** The most runs one lookup reads: a runner rarely holds jobs of more when its server restarts. */
export const maxRunsRead = 64;

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
): Promise<Set<string>> {
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
  const ran = new Set<string>();
  // One run at a time: a resume names few runs, and a forged one must not take the store's whole pool.
  for (const [runId, listed] of byRun) {
    for (const job of await runs.listJobs(runId)) {
      if (!listed.has(job.id)) continue;
      if (job.runner?.id === runnerId) ran.add(job.id);
      else if ((job.attempt ?? 1) > 1) {
        const attempts = await runs.listJobAttempts(job.id);
        if (attempts.some((attempt) => attempt.runner?.id === runnerId)) ran.add(job.id);
      }
    }
  }
  return ran;
}
