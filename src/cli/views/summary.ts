import { displayWidth, padToWidth } from '../../core/display-width.js';
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

/**
 * The table printed when a run ends: one row per job, then the run's status and duration. `unstarted`:
 * no job ran, so none has a duration, and the last line says the run ended before it started.
 */
export function summaryTable(
  jobs: readonly JobSummary[],
  status: string,
  durationMs: number,
  c: Colors,
  unstarted?: UnstartedRun,
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
  const end =
    unstarted === undefined
      ? `Run ${paint(status)} in ${took}`
      : `Run ${paint(status)} while it waited for concurrency group ${unstarted.group}, before it started (it waited ${took})`;
  return [header, ...rows, '', end].join('\n');
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
