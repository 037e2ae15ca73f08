import { timeoutText } from '../../runner/step-timeout.js';
import type { StepRecord } from '../../store/runs.js';
import { type Colors, colorForStatus, formatDuration, onRunnerText, visible } from './format.js';
import { jobStatusCell } from './run-table.js';

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
}

/** A step attempt as `valkyrie show` prints it: a local StepRecord, or the API's view of it. */
export type ShownStep = Omit<StepRecord, 'jobId' | 'outcome' | 'conclusion'> & {
  readonly outcome?: string;
  readonly conclusion?: string;
};

/**
 * `valkyrie show`'s line of a job, locally and with `--server` alike: `durationMs` is its whole time
 * (jobDurationMs: from its first attempt's start); each attempt's own is on its line (jobDetailLines).
 */
export function jobLine(job: ShownJob, durationMs: number | undefined, c: Colors): string {
  const reason = job.reason ? c.dim(` (${visible(job.reason)})`) : '';
  const on = c.dim(onRunnerText(job.runner, job.status));
  const took = durationMs === undefined ? '' : formatDuration(durationMs);
  return `  ${jobStatusCell(c, job.status)} ${visible(job.name)} ${c.dim(took)}${on}${reason}`;
}

/**
 * The lines `valkyrie show` prints under a job: its steps, and when the job ran more than once, each
 * attempt with its status, duration, runner and reason, its steps beneath it. A step that ran more than once
 * shows each attempt, numbered. `ended`: the job's ended attempts, oldest first; `job` is its current one.
 */
export function jobDetailLines(
  job: ShownJob,
  ended: readonly ShownAttempt[],
  steps: readonly ShownStep[],
  c: Colors,
): string[] {
  if (ended.length === 0) return stepLines(steps, '      ', c);
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
    const status = colorForStatus(c, attempt.status)(attempt.status.padEnd(9));
    const on = c.dim(onRunnerText(attempt.runner, attempt.status));
    out.push(
      `    attempt ${attempt.attempt}: ${status} ${c.dim(duration(attempt.startedAt, attempt.finishedAt))}${on}${reason}`,
    );
    const own = steps.filter((step) => (step.jobAttempt ?? 1) === attempt.attempt);
    out.push(...stepLines(own, '        ', c));
  }
  return out;
}

function stepLines(steps: readonly ShownStep[], indent: string, c: Colors): string[] {
  const retried = new Set(
    steps.filter((step) => (step.attempt ?? 1) > 1).map((step) => `${step.jobAttempt ?? 1}:${step.index}`),
  );
  return steps.map((step) => {
    const result = step.conclusion ?? 'running';
    const attempt = retried.has(`${step.jobAttempt ?? 1}:${step.index}`)
      ? ` ${c.dim(`(attempt ${step.attempt ?? 1})`)}`
      : '';
    const notes = stepNotes(step);
    const noted = notes.length === 0 ? '' : c.dim(` · ${notes.join(' · ')}`);
    return `${indent}${c.dim(result.padEnd(9))} ${visible(step.name)}${attempt}${noted} ${c.dim(duration(step.startedAt, step.finishedAt))}`;
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

/** What the headings need of a log line: local store lines and the API's alike. */
export interface AttemptedLine {
  readonly jobId: string;
  readonly stepIndex: number;
  readonly text: string;
  /** Absent means 1. */
  readonly jobAttempt?: number;
  /** The step's own attempt; absent means 1. */
  readonly attempt?: number;
}

/** A job whose lines are shown, and how many attempts it has had (its record's `attempt`). */
export interface LoggedJob {
  readonly id: string;
  readonly attempts: number;
}

export type HeadedEntry<L> = { readonly line?: L; readonly heading?: string; readonly jobId: string };

/**
 * The headed log of lines held whole: the reference writeHeadedLog's paging must equal (its tests
 * compare the two). Log lines with a heading wherever a new attempt begins: of the job, whenever it ran more than once
 * — every attempt gets its heading, also one that printed nothing, so a reader sees that it ran (its
 * heading comes where the next attempt's lines begin, or at the end) — and of a step when its lines
 * show it ran more than once: `── job attempt 2 ──`, `── Run ./flaky.sh: attempt 3 ──`.
 */
export function logLinesWithHeadings<L extends AttemptedLine>(
  lines: readonly L[],
  stepNames: ReadonlyMap<string, string>,
  jobs: readonly LoggedJob[],
): HeadedEntry<L>[] {
  const headings = new AttemptHeadings(stepNames, jobs, printedStepAttempts(lines));
  return [...lines.flatMap((line) => headings.next(line)), ...headings.end()];
}

/** Which attempts of each step (by stepKey) printed any of `lines`, added to `into`. */
export function printedStepAttempts(
  lines: readonly AttemptedLine[],
  into = new Map<string, Set<number>>(),
): Map<string, Set<number>> {
  for (const line of lines) add(into, stepKey(line), line.attempt ?? 1);
  return into;
}

/**
 * logLinesWithHeadings a line at a time, for a log read a page at a time: next() for each line in
 * order, then end(). Whether a step is headed depends on every line of the log (did more than one
 * of its attempts print?): `printed` says so (printedStepAttempts over the whole log). Without it, it
 * is learnt from the lines as they come, which is the same when no step ran more than once.
 */
export class AttemptHeadings {
  private readonly attemptsOf: ReadonlyMap<string, number>;
  private readonly stepAttempts: Map<string, Set<number>>;
  /** The highest job attempt headed so far, and the attempt the last line shown was of. */
  private readonly headed = new Map<string, number>();
  private readonly current = new Map<string, number>();
  private readonly lastStep = new Map<string, string>();

  constructor(
    private readonly stepNames: ReadonlyMap<string, string>,
    private readonly jobs: readonly LoggedJob[],
    printed?: ReadonlyMap<string, ReadonlySet<number>>,
  ) {
    this.attemptsOf = new Map(jobs.map((job) => [job.id, job.attempts]));
    this.stepAttempts = new Map([...(printed ?? [])].map(([key, attempts]) => [key, new Set(attempts)]));
  }

  /** The headings that come before `line`, then the line. */
  next<L extends AttemptedLine>(line: L): HeadedEntry<L>[] {
    const out: HeadedEntry<L>[] = [];
    const jobAttempt = line.jobAttempt ?? 1;
    if ((this.attemptsOf.get(line.jobId) ?? 1) > 1 && this.current.get(line.jobId) !== jobAttempt) {
      const from = this.headed.get(line.jobId) ?? 0;
      if (jobAttempt > from) for (let a = from + 1; a <= jobAttempt; a++) out.push(jobHeading(line.jobId, a));
      else out.push(jobHeading(line.jobId, jobAttempt));
      this.headed.set(line.jobId, Math.max(from, jobAttempt));
      this.lastStep.delete(line.jobId);
    }
    this.current.set(line.jobId, jobAttempt);
    const key = stepKey(line);
    add(this.stepAttempts, key, line.attempt ?? 1);
    const stepAttempt = `${key}#${line.attempt ?? 1}`;
    if (
      line.stepIndex >= 0 &&
      (this.stepAttempts.get(key)?.size ?? 0) > 1 &&
      this.lastStep.get(line.jobId) !== stepAttempt
    ) {
      const name = this.stepNames.get(key) ?? `step ${line.stepIndex + 1}`;
      out.push({ heading: `── ${name}: attempt ${line.attempt ?? 1} ──`, jobId: line.jobId });
    }
    this.lastStep.set(line.jobId, stepAttempt);
    out.push({ line, jobId: line.jobId });
    return out;
  }

  /** Attempts after the last one that printed anything (or of a job that printed nothing at all). */
  end(): HeadedEntry<never>[] {
    const out: HeadedEntry<never>[] = [];
    for (const job of this.jobs) {
      if (job.attempts <= 1) continue;
      for (let a = (this.headed.get(job.id) ?? 0) + 1; a <= job.attempts; a++)
        out.push(jobHeading(job.id, a));
    }
    return out;
  }
}

function jobHeading(jobId: string, attempt: number): HeadedEntry<never> {
  return { heading: `── job attempt ${attempt} ──`, jobId };
}

/** The key stepNames is looked up by: job, job attempt and step index. */
export function stepKey(step: {
  readonly jobId: string;
  readonly jobAttempt?: number;
  readonly stepIndex?: number;
  readonly index?: number;
}): string {
  return `${step.jobId}/${step.jobAttempt ?? 1}/${step.stepIndex ?? step.index ?? -1}`;
}

function add(map: Map<string, Set<number>>, key: string, value: number): void {
  const set = map.get(key) ?? new Set<number>();
  set.add(value);
  map.set(key, set);
}
