import type { LogLine } from '../../store/logs.js';
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

/**
 * Log lines with a heading wherever a new attempt begins: of the job (when it ran more than once)
 * or of a step (when that step ran more than once), e.g. `── job attempt 2 ──`,
 * `── Run ./flaky.sh: attempt 3 ──`.
 */
export function logLinesWithHeadings(
  lines: readonly LogLine[],
  stepNames: ReadonlyMap<string, string>,
): { readonly line?: LogLine; readonly heading?: string; readonly jobId: string }[] {
  const jobAttempts = new Map<string, Set<number>>();
  const stepAttempts = new Map<string, Set<number>>();
  for (const line of lines) {
    add(jobAttempts, line.jobId, line.jobAttempt ?? 1);
    add(stepAttempts, stepKey(line), line.attempt ?? 1);
  }
  const out: { line?: LogLine; heading?: string; jobId: string }[] = [];
  const lastJobAttempt = new Map<string, number>();
  const lastStep = new Map<string, string>();
  for (const line of lines) {
    const jobAttempt = line.jobAttempt ?? 1;
    if ((jobAttempts.get(line.jobId)?.size ?? 0) > 1 && lastJobAttempt.get(line.jobId) !== jobAttempt) {
      out.push({ heading: `── job attempt ${jobAttempt} ──`, jobId: line.jobId });
      lastStep.delete(line.jobId);
    }
    lastJobAttempt.set(line.jobId, jobAttempt);
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
