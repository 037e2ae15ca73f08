import { visible } from '../../core/visible-text.js';
import type { ApiJob, ApiRunDetail } from '../run-answer.js';
import { continuedText, dimmedText, jobDetailLines, jobLine } from './attempts.js';
import {
  type Colors,
  colorForStatus,
  formatDuration,
  noRunnerText,
  onRunnerText,
  runHeading,
  spacedDuration,
} from './format.js';
import { groupPlaceLine, groupWaitLine } from './group-place.js';
import { matrixFilterLine, selectedJobsLine } from './job-selection.js';
import { jobStatusCell, listedStatus, runDurationText } from './run-table.js';
import { runnerAbsenceText } from './runner-absence.js';
import { staleWritesLine } from './stale-writes.js';

/**
 * The lines of `valkyrie show RUN`, locally and with `--server` alike: the run's view (run-views.ts,
 * `details`), built on the local store or sent by a server. The run's heading, its place in its
 * concurrency group, the jobs and matrix legs it was narrowed to, then each job with its attempts,
 * steps and refused stale writes. Lines only one mode prints come from what only its view has: a
 * local run whose process died (`interrupted`), a server's queued job that no runner has the labels
 * for (`noRunnerWith`), a server's running job whose runner is not connected (`runnerDisconnected`),
 * a job of a server from before attempts and steps. `serverFlags`: what a hint's
 * command needs to reach the run's server (` --server URL`), if anything (groupPlaceLine).
 */
export function runDetailLines(run: ApiRunDetail, c: Colors, serverFlags = ''): string[] {
  const status = colorForStatus(c, run.status)(listedStatus(run));
  const lines = [`${runHeading(run)}: ${status}${spacedDuration(runDurationText(run))}`];
  if (run.interrupted) lines.push(`  its process stopped; continue it with: valkyrie resume ${run.id}`);
  const place = groupPlaceLine(run, run.interrupted === true, serverFlags);
  if (place !== undefined) lines.push(`  ${c.yellow(place)}`);
  const waited = groupWaitLine(run);
  if (waited !== undefined) lines.push(`  ${c.dim(waited)}`);
  if (run.selectedJobs !== undefined) lines.push(selectedJobsLine(run.selectedJobs, c));
  if (run.matrixFilter !== undefined) lines.push(matrixFilterLine(run.matrixFilter, c));
  for (const job of run.jobs) {
    lines.push(shownJobLine(job, c));
    if (job.noRunnerWith !== undefined) lines.push(`    ${c.yellow(noRunnerText(job.noRunnerWith, job))}`);
    if (job.runnerDisconnected !== undefined)
      lines.push(`    ${c.yellow(runnerAbsenceText(job.runnerDisconnected))}`);
    if (job.attempts !== undefined && job.steps !== undefined)
      lines.push(...jobDetailLines(job, job.attempts, job.steps, c));
    const stale = staleWritesLine(job.staleWrites, c);
    if (stale !== undefined) lines.push(stale);
  }
  return lines;
}

/**
 * The job's line (jobLine), its attempts and steps listed under it; from a server before them, one
 * line with the attempt its status is of, since nothing under it says the job ran more than once.
 */
function shownJobLine(job: ApiJob, c: Colors): string {
  if (job.waitingToRunAgain) return rerunWaitLine(job, c);
  if (job.attempts !== undefined) return jobLine(job, job.durationMs, c);
  const tries = job.attempt > 1 ? c.dim(` attempt ${job.attempt}`) : '';
  const took = job.durationMs === undefined ? '' : c.dim(` ${formatDuration(job.durationMs)}`);
  const reason = job.reason ? c.dim(` (${visible(job.reason)})`) : '';
  const on = dimmedText(c, onRunnerText(job.runner, job.status));
  return `  ${jobStatusCell(c, job.status)} ${visible(job.name)}${took}${tries}${on}${reason}${continuedText(job, c)}`;
}

/**
 * A job its run's re-run has still to run again: its record holds the earlier attempt's end, which
 * read alone (`✓ succeeded`, `- skipped`) says the job is done while the re-run waits to run it; so
 * it reads as waiting (as Gitea marks a re-run's jobs), with that attempt's end after it.
 */
function rerunWaitLine(job: ApiJob, c: Colors): string {
  const ended = c.dim(` to run again (attempt ${job.attempt}: ${job.status})`);
  return `  ${jobStatusCell(c, 'waiting')} ${visible(job.name)}${ended}`;
}
