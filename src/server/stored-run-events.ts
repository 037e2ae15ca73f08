import { isTerminal, type TerminalJobStatus } from '../core/outcome.js';
import { attemptField, type JobSummary, jobAttemptField, type RunEvent } from '../engine/events.js';
import type { LogLine } from '../store/logs.js';
import type { JobAttemptRecord, JobRecord, RunConcurrency, RunRecord, StepRecord } from '../store/runs.js';

/* The events a run's stored records stand for, for a process that did not see them happen. */

export function runStartedOf(run: RunRecord): RunEvent {
  return {
    type: 'run.started',
    runId: run.id,
    runNumber: run.runNumber,
    workflow: run.workflowName,
    ...attemptField(run.attempt),
    at: run.startedAt ?? run.createdAt,
  };
}

/** Undefined once `admitted`: the run's start tells that (the driver's feed has no event for it). */
export function concurrencyOf(
  run: RunRecord,
  { state, joinedAt: _, ...place }: RunConcurrency,
): RunEvent | undefined {
  return state === 'admitted' ? undefined : { type: 'concurrency', runId: run.id, state, ...place };
}

/** Undefined for a job whose current attempt was not queued (yet, or it ended without being queued). */
export function jobQueuedOf(job: JobRecord): RunEvent | undefined {
  const { queuedAt, priority, notBefore } = job;
  if (queuedAt === undefined) return undefined;
  return {
    type: 'job.queued',
    jobId: job.id,
    name: job.name,
    at: queuedAt,
    ...(priority === undefined ? {} : { priority }),
    ...(notBefore === undefined ? {} : { notBefore }),
    ...attemptField(job.attempt),
  };
}

/**
 * The queueing of an ended attempt, which the store does not keep (a job's record holds its current
 * attempt's): after a retry, when and until when the driver queued it (at the retried attempt's end,
 * not before its delay had passed); otherwise told at its start, the latest it can have been queued.
 * Undefined for an attempt that never started (nothing says it was queued).
 */
export function endedJobQueuedOf(
  job: JobRecord,
  attempt: number,
  previous: JobAttemptRecord | undefined,
  ended: JobAttemptRecord | undefined,
): RunEvent | undefined {
  const { priority } = job;
  const retried = previous?.retry;
  const at = retried === undefined ? ended?.startedAt : previous?.finishedAt;
  if (at === undefined) return undefined;
  return {
    type: 'job.queued',
    jobId: job.id,
    name: job.name,
    at,
    ...(priority === undefined ? {} : { priority }),
    ...(retried === undefined ? {} : { notBefore: at + retried.delayMs }),
    ...attemptField(attempt),
  };
}

/** Undefined for an ended attempt that was not retried (a re-run started the next one). */
export function jobRetryingOf(ended: JobAttemptRecord, job: JobRecord): RunEvent | undefined {
  if (ended.retry === undefined) return undefined;
  const { delayMs, reason } = ended.retry;
  const attempt = ended.attempt + 1;
  return {
    type: 'job.retrying',
    jobId: job.id,
    name: job.name,
    attempt,
    delayMs,
    reason,
    at: ended.finishedAt,
  };
}

export function jobStartedOf(job: JobRecord, run: RunRecord): RunEvent {
  return {
    type: 'job.started',
    jobId: job.id,
    name: job.name,
    at: job.startedAt ?? run.createdAt,
    ...attemptField(job.attempt),
  };
}

export function stepStartedOf(step: StepRecord, job: JobRecord, run: RunRecord): RunEvent {
  return {
    type: 'step.started',
    jobId: job.id,
    job: job.name,
    index: step.index,
    step: step.name,
    at: step.startedAt ?? run.createdAt,
    ...jobAttemptField(step.jobAttempt),
    ...attemptField(step.attempt),
  };
}

/** Undefined for a step that has not finished. */
export function stepCompletedOf(step: StepRecord, job: JobRecord): RunEvent | undefined {
  const { outcome, conclusion, finishedAt } = step;
  if (outcome === undefined || conclusion === undefined || finishedAt === undefined) return undefined;
  return {
    type: 'step.completed',
    jobId: job.id,
    job: job.name,
    step: {
      index: step.index,
      name: step.name,
      outcome,
      conclusion,
      finishedAt,
      ...(step.exitCode === undefined ? {} : { exitCode: step.exitCode }),
      ...(step.startedAt === undefined ? {} : { startedAt: step.startedAt }),
      ...(step.attempt === undefined ? {} : { attempt: step.attempt }),
      ...(step.retryDelayMs === undefined ? {} : { retryDelayMs: step.retryDelayMs }),
      ...(step.timedOutAfterMs === undefined ? {} : { timedOutAfterMs: step.timedOutAfterMs }),
      ...(step.maxAttempts === undefined ? {} : { maxAttempts: step.maxAttempts }),
    },
    ...jobAttemptField(step.jobAttempt),
  };
}

/** `status`: the job's, which is terminal. */
export function jobCompletedOf(
  job: JobRecord,
  status: TerminalJobStatus,
  run: RunRecord,
): Extract<RunEvent, { type: 'job.completed' }> {
  return {
    type: 'job.completed',
    jobId: job.id,
    name: job.name,
    status,
    durationMs: durationOf(job),
    ...(job.startedAt === undefined ? { neverStarted: true } : {}),
    ...(job.reason === undefined ? {} : { reason: job.reason }),
    ...(job.continuedOnError ? { continuedOnError: true } : {}),
    at: job.finishedAt ?? run.createdAt,
    ...attemptField(job.attempt),
  };
}

/** For a finished run: its finished jobs as the summary. */
export function runCompletedOf(run: RunRecord, jobs: readonly JobRecord[]): RunEvent {
  const start = run.startedAt ?? run.createdAt;
  const finished: JobSummary[] = [];
  for (const job of jobs)
    if (isTerminal(job.status))
      finished.push({
        name: job.name,
        status: job.status,
        durationMs: durationOf(job),
        // The record keeps its current attempt's start only: one past its first, an earlier one started.
        ...(job.startedAt === undefined && (job.attempt ?? 1) === 1 ? { neverStarted: true } : {}),
        ...(job.continuedOnError ? { continuedOnError: true } : {}),
      });
  return {
    type: 'run.completed',
    runId: run.id,
    status: run.status,
    durationMs: run.finishedAt === undefined ? 0 : run.finishedAt - start,
    jobs: finished,
  };
}

export function logEventOf(line: LogLine, job: string): RunEvent {
  return {
    type: 'log',
    jobId: line.jobId,
    job,
    stepIndex: line.stepIndex,
    stream: line.stream,
    text: line.text,
    at: line.at,
    ...jobAttemptField(line.jobAttempt),
    ...attemptField(line.attempt),
  };
}

export function isFinished(run: RunRecord): boolean {
  return run.status !== 'queued' && run.status !== 'running';
}

function durationOf(job: JobRecord): number {
  return job.startedAt === undefined || job.finishedAt === undefined ? 0 : job.finishedAt - job.startedAt;
}
