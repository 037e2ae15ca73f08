import { ValkyrieError } from '../core/errors.js';
import { unfinishedRunStatuses } from '../store/runs.js';
import type { ChosenJobs } from './follow-logs.js';

interface NamedJob {
  readonly id: string;
  readonly name: string;
  readonly key: string;
}

/**
 * The jobs `valkyrie logs RUN [JOB]` prints: all of them, or those `jobName` names — a key or a
 * matrix job's name (without its legs' values) selects every leg of it, a leg's name or a job id one
 * job. VK_JOB_NOT_FOUND, listing the run's jobs, when it names none; for a run still queued or
 * running, which adds a job that needs others (and its matrix legs) only once they finished, it says
 * that the job may be to come.
 */
export function loggedJobs<Job extends NamedJob>(
  /** `status` as text: a server's run view (ApiRunDetail) carries it unchecked. */
  run: { readonly id: string; readonly status: string },
  jobs: readonly Job[],
  jobName: string | undefined,
): readonly Job[] {
  if (jobName === undefined) return jobs;
  const selected = jobs.filter((job) => job.name === jobName || job.key === jobName || job.id === jobName);
  if (selected.length > 0) return selected;
  // A matrix job's own name, as GitHub shows it above its legs: `Build App` for `Build App (1)`, ….
  const legs = jobs.filter((job) => job.name.startsWith(`${jobName} (`) && job.name.endsWith(')'));
  if (legs.length > 0) return legs;
  const names = jobs.map((job) => job.name).join(', ');
  const unfinished = (unfinishedRunStatuses as readonly string[]).includes(run.status);
  const message = unfinished
    ? `run ${run.id} has no job ${JSON.stringify(jobName)} yet; its jobs so far: ${names || 'none'} (a job that needs others is added once they finish; without JOB, --follow follows the whole run)`
    : `run ${run.id} has no job ${JSON.stringify(jobName)}; its jobs: ${names}`;
  throw new ValkyrieError('VK_JOB_NOT_FOUND', message);
}

/** What `logs --follow` keeps of the run's events: the named jobs' (undefined: every job's). */
export function followedJobs(
  selected: readonly NamedJob[],
  jobName: string | undefined,
): ChosenJobs | undefined {
  if (jobName === undefined) return undefined;
  return { ids: new Set(selected.map((job) => job.id)), names: new Set(selected.map((job) => job.name)) };
}
