import type { JobRecord } from '../store/runs.js';
import type { Workflow } from '../workflow/model.js';
import type { ActiveRun } from './active-run.js';

/** The jobs of `jobs` whose job has no `concurrency:` group of its own: a takeover may hold their leases. */
export function withoutGroups(jobs: readonly JobRecord[], workflow: Workflow): JobRecord[] {
  return jobs.filter((job) => workflow.jobs.get(job.key)?.concurrency === undefined);
}

/** How a job of `run` enters its own group (JobGroups.enter): adopting its place if the run was resumed. */
export function entryOf(run: ActiveRun, legId: string): { adopt: boolean; returning: boolean } {
  return { adopt: run.resumed, returning: run.returning.has(legId) };
}

/**
 * Marks `run` continued from an earlier process's run, or not (ActiveRun.resumed, returning,
 * ownerExited): the jobs stored queued or running had joined their own groups in that process.
 */
export function markResumed(
  run: ActiveRun,
  resumed: boolean,
  jobs: readonly { readonly id: string; readonly status: string }[],
  ownerExited: boolean,
): void {
  run.resumed = resumed;
  run.ownerExited = resumed && ownerExited;
  if (!resumed) return;
  const joined = jobs.filter(({ status }) => status === 'queued' || status === 'running');
  run.returning = new Set(joined.map(({ id }) => id));
}
