import type { JobAttemptRecord, JobRecord, StepRecord } from '../../store/runs.js';
import { type Colors, colorForStatus, formatDuration, onRunnerText } from './format.js';

const duration = (start?: number, end?: number) =>
  start !== undefined && end !== undefined ? formatDuration(end - start) : '';

/**
 * The lines `valkyrie show` prints under a job: its steps, and when the job ran more than once, each
 * attempt with its status, duration, runner and reason, its steps beneath it. A step that ran more than once
 * shows each attempt, numbered.
 */
export function jobDetailLines(
  job: JobRecord,
  ended: readonly JobAttemptRecord[],
  steps: readonly StepRecord[],
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
    const reason = attempt.reason ? c.dim(` (${attempt.reason})`) : '';
    const status = colorForStatus(c, attempt.status)(attempt.status.padEnd(9));
    const on = c.dim(onRunnerText(attempt.runner));
    out.push(
      `    attempt ${attempt.attempt}: ${status} ${c.dim(duration(attempt.startedAt, attempt.finishedAt))}${on}${reason}`,
    );
    const own = steps.filter((step) => (step.jobAttempt ?? 1) === attempt.attempt);
    out.push(...stepLines(own, '        ', c));
  }
  return out;
}

function stepLines(steps: readonly StepRecord[], indent: string, c: Colors): string[] {
  const retried = new Set(
    steps.filter((step) => (step.attempt ?? 1) > 1).map((step) => `${step.jobAttempt ?? 1}:${step.index}`),
  );
  return steps.map((step) => {
    const result = step.conclusion ?? 'running';
    const code = step.exitCode !== undefined && step.exitCode !== 0 ? ` exit ${step.exitCode}` : '';
    const attempt = retried.has(`${step.jobAttempt ?? 1}:${step.index}`)
      ? ` ${c.dim(`(attempt ${step.attempt ?? 1})`)}`
      : '';
    return `${indent}${c.dim(result.padEnd(9))} ${step.name}${code}${attempt} ${c.dim(duration(step.startedAt, step.finishedAt))}`;
  });
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
 * Log lines with a heading wherever a new attempt begins: of the job, whenever it ran more than once
 * — every attempt gets its heading, also one that printed nothing, so a reader sees that it ran (its
 * heading comes where the next attempt's lines begin, or at the end) — and of a step when its lines
 * show it ran more than once: `── job attempt 2 ──`, `── Run ./flaky.sh: attempt 3 ──`.
 */
export function logLinesWithHeadings<L extends AttemptedLine>(
  lines: readonly L[],
  stepNames: ReadonlyMap<string, string>,
  jobs: readonly LoggedJob[],
): HeadedEntry<L>[] {
  const attemptsOf = new Map(jobs.map((job) => [job.id, job.attempts]));
  const stepAttempts = new Map<string, Set<number>>();
  for (const line of lines) add(stepAttempts, stepKey(line), line.attempt ?? 1);
  const out: HeadedEntry<L>[] = [];
  const jobHeading = (jobId: string, attempt: number) =>
    out.push({ heading: `── job attempt ${attempt} ──`, jobId });
  /** The highest job attempt headed so far, and the attempt the last line shown was of. */
  const headed = new Map<string, number>();
  const current = new Map<string, number>();
  const lastStep = new Map<string, string>();
  for (const line of lines) {
    const jobAttempt = line.jobAttempt ?? 1;
    if ((attemptsOf.get(line.jobId) ?? 1) > 1 && current.get(line.jobId) !== jobAttempt) {
      const from = headed.get(line.jobId) ?? 0;
      if (jobAttempt > from) for (let a = from + 1; a <= jobAttempt; a++) jobHeading(line.jobId, a);
      else jobHeading(line.jobId, jobAttempt);
      headed.set(line.jobId, Math.max(from, jobAttempt));
      lastStep.delete(line.jobId);
    }
    current.set(line.jobId, jobAttempt);
    const key = stepKey(line);
    const stepAttempt = `${key}#${line.attempt ?? 1}`;
    if (
      line.stepIndex >= 0 &&
      (stepAttempts.get(key)?.size ?? 0) > 1 &&
      lastStep.get(line.jobId) !== stepAttempt
    ) {
      const name = stepNames.get(key) ?? `step ${line.stepIndex + 1}`;
      out.push({ heading: `── ${name}: attempt ${line.attempt ?? 1} ──`, jobId: line.jobId });
    }
    lastStep.set(line.jobId, stepAttempt);
    out.push({ line, jobId: line.jobId });
  }
  // Attempts after the last one that printed anything (or of a job that printed nothing at all).
  for (const job of jobs) {
    if (job.attempts <= 1) continue;
    for (let a = (headed.get(job.id) ?? 0) + 1; a <= job.attempts; a++) jobHeading(job.id, a);
  }
  return out;
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
