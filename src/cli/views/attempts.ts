import { timeoutText } from '../../core/counted.js';
import { visible } from '../../core/visible-text.js';
import type { StepRecord } from '../../store/runs.js';
import { type Colors, colorForStatus, continuedNote, formatDuration, onRunnerText } from './format.js';
import { jobStatusCell } from './run-table.js';
import { stepAttemptText, stepAttemptTotals, stepOfJobAttempt } from './step-attempts.js';
import { isoSeconds } from './text-table.js';

const duration = (start?: number, end?: number) =>
  start !== undefined && end !== undefined ? formatDuration(end - start) : '';

type ShownRunner = { readonly id: string; readonly name: string };

/** An attempt of a job as `valkyrie show` prints it: a local record, or the API's view of it alike. */
export interface ShownAttempt {
  readonly attempt: number;
  readonly status: string;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly reason?: string;
  readonly runner?: ShownRunner;
}

/** A job as `valkyrie show` prints it (its current attempt): a local JobRecord, or the API's job view. */
export interface ShownJob extends Omit<ShownAttempt, 'attempt'> {
  readonly name: string;
  /** Absent means 1. */
  readonly attempt?: number;
  /** A queued job is not offered before this time (`not-before`, or a retry's delay). */
  readonly notBefore?: number;
  /** It failed and its job-level continue-on-error let the run go on. */
  readonly continuedOnError?: true;
}

/** A step attempt as `valkyrie show` prints it: a local StepRecord, or the API's view of it. */
export type ShownStep = Omit<StepRecord, 'jobId' | 'outcome' | 'conclusion'> & {
  readonly outcome?: string;
  readonly conclusion?: string;
};

/**
 * `valkyrie show`'s line of a job, locally and with `--server` alike: `durationMs` is its whole time
 * (jobDurationMs: from its first attempt's start); each attempt's own is on its line (jobDetailLines).
 * A queued job held back until later (`not-before`, a retry's delay) says until when, as the live view
 * does: otherwise "queued" reads as a job no runner takes; in ISO 8601 (UTC), as `show`'s other times.
 */
export function jobLine(job: ShownJob, durationMs: number | undefined, c: Colors, now = Date.now()): string {
  const reason = job.reason ? c.dim(` (${visible(job.reason)})`) : '';
  const on = dimmedText(c, onRunnerText(job.runner, job.status));
  const took = durationMs === undefined ? '' : formatDuration(durationMs);
  const held =
    job.status === 'queued' && job.notBefore !== undefined && job.notBefore > now
      ? `not before ${isoSeconds(job.notBefore)}`
      : '';
  const timing = [took, held].filter((part) => part !== '').join(' ');
  return `  ${jobStatusCell(c, job.status)} ${visible(job.name)}${dimmed(c, timing)}${on}${reason}${continuedText(job, c)}`;
}

/**
 * `, continued (continue-on-error)` after a failed job that its job-level continue-on-error let pass,
 * as a step's line says it of a step: the job shows failed, as on GitHub, and this says why the run
 * went on; nothing for any other job.
 */
export function continuedText(job: { readonly continuedOnError?: true }, c: Colors): string {
  return job.continuedOnError ? c.dim(`, ${continuedNote}`) : '';
}

/** ` TEXT` dimmed, or nothing for no text: a job or step that has no duration ends with no spaces. */
const dimmed = (c: Colors, text: string) => (text === '' ? '' : ` ${c.dim(text)}`);

/** No escape codes around nothing: a line's tail is empty when it shows nothing. */
export const dimmedText = (c: Colors, text: string) => (text === '' ? '' : c.dim(text));

/**
 * The lines `valkyrie show` prints under a job: its steps, and when the job ran more than once, each
 * attempt with its status, duration, runner and reason, its steps beneath it. A step that ran more than once
 * shows each attempt, numbered; one waiting out its `retry:` delay says until when (stepWaitText).
 * `ended`: the job's ended attempts, oldest first; `job` is its current one.
 */
export function jobDetailLines(
  job: ShownJob,
  ended: readonly ShownAttempt[],
  steps: readonly ShownStep[],
  c: Colors,
  now = Date.now(),
): string[] {
  // Only the running attempt's steps may wait: an ended attempt's next step attempt never comes.
  const waiting = job.status === 'running' ? (job.attempt ?? 1) : undefined;
  const wait = (own: readonly ShownStep[], attempt: number) =>
    attempt === waiting ? (step: ShownStep) => stepWaitText(step, own, now) : () => undefined;
  if (ended.length === 0) return stepLines(steps, '      ', c, wait(steps, job.attempt ?? 1));
  const current = {
    attempt: job.attempt ?? 1,
    status: job.status,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    reason: job.reason,
    runner: job.runner,
  };
  const out: string[] = [];
  for (const attempt of [...ended, current]) {
    const reason = attempt.reason ? c.dim(` (${visible(attempt.reason)})`) : '';
    const on = dimmedText(c, onRunnerText(attempt.runner, attempt.status));
    const tail = `${dimmed(c, duration(attempt.startedAt, attempt.finishedAt))}${on}${reason}`;
    // Padded to line up what follows the status; nothing follows, no padding.
    const said = attemptStatusText(attempt.status);
    const status = colorForStatus(c, attempt.status)(tail === '' ? said : said.padEnd(9));
    out.push(`    attempt ${attempt.attempt}: ${status}${tail}`);
    const own = steps.filter((step) => (step.jobAttempt ?? 1) === attempt.attempt);
    out.push(...stepLines(own, '        ', c, wait(own, attempt.attempt)));
  }
  return out;
}

/**
 * An attempt's status as its line says it: `runner lost` for an attempt whose runner was lost and
 * whose job was requeued (AttemptStatus), in words, as it is no job status the reader looks up.
 */
const attemptStatusText = (status: string) => (status === 'runner_lost' ? 'runner lost' : status);

/**
 * ` retrying at TIME (attempt N of M)` for the last attempt of a step that its `retry:` runs again after
 * a delay (`retryDelayMs`, reported at the failed attempt's end, before the wait) while the wait lasts,
 * as a job held back says `not before` (jobLine), in ISO 8601 (UTC) too. `steps`: its job attempt's.
 * `of M` only when the runner reported the step's attempts in all (`maxAttempts`; an older one did not).
 */
function stepWaitText(step: ShownStep, steps: readonly ShownStep[], now: number): string | undefined {
  if (step.retryDelayMs === undefined || step.finishedAt === undefined) return undefined;
  const attempt = step.attempt ?? 1;
  if (steps.some((other) => other.index === step.index && (other.attempt ?? 1) > attempt)) return undefined;
  const at = step.finishedAt + step.retryDelayMs;
  return at > now
    ? `retrying at ${isoSeconds(at)} (${stepAttemptText(attempt + 1, step.maxAttempts)})`
    : undefined;
}

function stepLines(
  steps: readonly ShownStep[],
  indent: string,
  c: Colors,
  waitText: (step: ShownStep) => string | undefined,
): string[] {
  const retried = new Set(steps.filter((step) => (step.attempt ?? 1) > 1).map(stepOfJobAttempt));
  // A running attempt's record has no total yet: the ended attempts before it have it.
  const totals = stepAttemptTotals(steps, stepOfJobAttempt);
  return steps.map((step) => {
    const result = step.conclusion ?? 'running';
    const key = stepOfJobAttempt(step);
    const attempt = retried.has(key)
      ? ` ${c.dim(`(${stepAttemptText(step.attempt ?? 1, totals.get(key))})`)}`
      : '';
    const notes = stepNotes(step);
    const wait = waitText(step);
    if (wait !== undefined) notes.push(wait);
    const noted = notes.length === 0 ? '' : c.dim(` · ${notes.join(' · ')}`);
    return `${indent}${c.dim(result.padEnd(9))} ${visible(step.name)}${attempt}${noted}${dimmed(c, duration(step.startedAt, step.finishedAt))}`;
  });
}

/**
 * What the status column does not say: a step whose outcome differs from its conclusion (it failed,
 * and continue-on-error made that a success, as GitHub's `steps.<id>.outcome` tells), a non-zero
 * exit code, set apart from the step's name (`Run exit 1` is a name), and the timeout that stopped it.
 */
function stepNotes(step: ShownStep): string[] {
  const notes: string[] = [];
  if (step.outcome !== undefined && step.conclusion !== undefined && step.outcome !== step.conclusion)
    notes.push(`outcome ${step.outcome}, continued (continue-on-error)`);
  if (step.exitCode !== undefined && step.exitCode !== 0) notes.push(`exit code ${step.exitCode}`);
  if (step.timedOutAfterMs !== undefined)
    notes.push(`timed out after ${timeoutText(step.timedOutAfterMs)} (timeout-minutes)`);
  return notes;
}
