import { displayWidth, padToWidth } from '../../core/display-width.js';
import type { RunStatus } from '../../core/outcome.js';
import { quotedVisible } from '../../core/visible-text.js';
import type { JobSummary, RunEvent } from '../../engine/events.js';
import {
  type Colors,
  colorForStatus,
  continuedNote,
  formatDuration,
  jobDurationText,
  statusSymbol,
} from './format.js';

/**
 * A run that ended before it started — cancelled (or replaced) while it waited for its concurrency
 * group: its run.completed's duration is how long it waited, not ran.
 */
export interface UnstartedRun {
  /** The concurrency group it waited for. */
  readonly group: string;
}

/** What the summary's last line tells besides the run's status and duration. */
export interface SummaryContext {
  /** No job ran, so none has a duration, and the last line says the run ended before it started. */
  readonly unstarted?: UnstartedRun;
  /**
   * The jobs are those `logs RUN JOB -f` follows, not all the run's: the last line tells their own
   * outcome, naming them, before the run's, which may differ (a job that succeeded in a run that failed).
   */
  readonly chosenJobsOfRun?: string;
}

/**
 * The table printed when a run ends: one row per job, then the run's status and duration.
 */
export function summaryTable(
  jobs: readonly JobSummary[],
  status: string,
  durationMs: number,
  c: Colors,
  { unstarted, chosenJobsOfRun }: SummaryContext = {},
): string {
  const nameWidth = Math.max(3, ...jobs.map((job) => displayWidth(job.name)));
  const rows = jobs.map((job) => {
    const paint = colorForStatus(c, job.status);
    const statusText = `${statusSymbol(job.status)} ${job.status}`;
    const name = `  ${padToWidth(job.name, nameWidth)}  `;
    if (unstarted !== undefined) return `${name}${paint(statusText)}`;
    const continued = job.continuedOnError ? `  ${c.dim(continuedNote)}` : '';
    return `${name}${paint(statusText.padEnd(12))}  ${jobDurationText(job).padEnd(8)}${continued}`.trimEnd();
  });
  const header = c.dim(`  ${'JOB'.padEnd(nameWidth)}  ${'STATUS'.padEnd(12)}  DURATION`);
  const paint = colorForStatus(c, status);
  const took = formatDuration(durationMs);
  let end = `Run ${paint(status)} in ${took}`;
  if (unstarted !== undefined)
    end = `Run ${paint(status)} while it waited for concurrency group ${unstarted.group}, before it started (it waited ${took})`;
  else if (chosenJobsOfRun !== undefined && jobs.length > 0) {
    const theirs = chosenJobsStatus(jobs);
    const named = `${jobs.length === 1 ? 'Job' : 'Jobs'} ${namedJobs(jobs)} ${colorForStatus(c, theirs)(theirs)}`;
    end =
      theirs === status
        ? `${named}, as did run ${chosenJobsOfRun}, in ${took}`
        : `${named}; run ${chosenJobsOfRun} ${paint(status)} in ${took}`;
  }
  return [header, ...rows, '', end].join('\n');
}

/** The outcome of some of a run's jobs, as a run of only them would end: any failed, else any cancelled. */
export function chosenJobsStatus(jobs: readonly Pick<JobSummary, 'status'>[]): RunStatus {
  const statuses = jobs.map((job) => job.status);
  if (statuses.some((status) => status === 'failed' || status === 'timed_out')) return 'failed';
  if (statuses.some((status) => status === 'cancelled')) return 'cancelled';
  return 'succeeded';
}

/** Quoted (quotedVisible), as a matrix leg's name has commas of its own; past three, the table above names the rest. */
function namedJobs(jobs: readonly JobSummary[]): string {
  const names = jobs.slice(0, 3).map((job) => quotedVisible(job.name));
  const more = jobs.length - names.length;
  return more > 0 ? `${names.join(', ')} and ${more} more` : names.join(', ');
}

/**
 * Follows a run's events for whether it waited for a concurrency group and never started (no
 * run.started — nor a job's start, for a follower that joined late).
 */
export class RunStart {
  #started = false;
  #group: string | undefined;

  onEvent(event: RunEvent): void {
    if (event.type === 'run.started' || event.type === 'job.started') this.#started = true;
    if (event.type === 'concurrency' && event.state !== 'cancel-requested') this.#group = event.group;
  }

  /** For summaryTable: undefined once the run has started, or when it never waited for a group. */
  unstarted(): UnstartedRun | undefined {
    return this.#started || this.#group === undefined ? undefined : { group: this.#group };
  }
}
