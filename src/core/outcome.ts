/** Final job statuses, as users see them in `show`, `--json` and the summary. */
export const terminalJobStatuses = ['succeeded', 'failed', 'cancelled', 'timed_out', 'skipped'] as const;
export type TerminalJobStatus = (typeof terminalJobStatuses)[number];

/**
 * How an ended attempt of a job ended (`show`, the run view's `attempts`): a final job status, or
 * `runner_lost` for one whose runner was lost and whose job went back to the queue as its next
 * attempt (`on-runner-lost: requeue`). That is no job status and no failure: infrastructure loss is
 * not the job's error, and the job goes on. (A job whose policy fails it on a lost runner ends
 * `failed`, its reason `runner_lost: …`.)
 */
export const attemptStatuses = [...terminalJobStatuses, 'runner_lost'] as const;
export type AttemptStatus = (typeof attemptStatuses)[number];

export const jobStatuses = ['pending', 'queued', 'offered', 'running', ...terminalJobStatuses] as const;
export type JobStatus = (typeof jobStatuses)[number];

/** For a status read from outside (an API answer). */
export function isJobStatus(status: string): status is JobStatus {
  return (jobStatuses as readonly string[]).includes(status);
}

export const runStatuses = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof runStatuses)[number];

/** A run's final statuses: a run in one of them has ended (until a re-run opens it again). */
export const finishedRunStatuses = ['succeeded', 'failed', 'cancelled'] as const;

/** Whether a run with `status` has ended; a status read from outside (an API answer) may be any text. */
export function isFinishedRunStatus(status: string): boolean {
  return (finishedRunStatuses as readonly string[]).includes(status);
}

/** For a status read from outside (a command-line flag, an API query). */
export function isRunStatus(status: string): status is RunStatus {
  return (runStatuses as readonly string[]).includes(status);
}

/** GitHub's two views of a step: `outcome` before continue-on-error applies, `conclusion` after. */
export const stepResults = ['success', 'failure', 'cancelled', 'skipped'] as const;
export type StepResult = (typeof stepResults)[number];

/** How a step's process ended. Cancellation is not failure; a timeout is not a failure either. */
export type ProcessOutcome =
  | { kind: 'exited'; exitCode: number }
  | { kind: 'timed_out' }
  | { kind: 'cancelled'; reason: string }
  | { kind: 'failed_to_start'; message: string };

/** How a job ended, as the runner reports it under its lease. */
export type JobOutcome =
  | { kind: 'succeeded' }
  /** exitCode: the failing step's, when a process exit caused the failure. */
  | { kind: 'failed'; reason: string; exitCode?: number }
  /** reason: why it was cancelled, as its runner was told (the control plane's) or decided itself. */
  | { kind: 'cancelled'; reason: string }
  | { kind: 'timed_out' }
  | { kind: 'skipped'; reason: string };

/**
 * The line a running job's log gets when it is told to stop, saying why (as GitHub's "Canceling since
 * a higher priority waiting request for 'G' exists"): written by its runner, or by the control plane
 * when the runner is away and cannot be told.
 */
export function cancellingLine(reason: string): string {
  return `cancelling the job: ${reason}`;
}

export function jobStatusOf(outcome: JobOutcome): TerminalJobStatus {
  return outcome.kind;
}

/** GitHub's `needs.<id>.result` vocabulary. */
export type NeedsResult = 'success' | 'failure' | 'cancelled' | 'skipped';

/**
 * A job stopped by its `timeout-minutes` reads as `cancelled`: GitHub's job timeout cancels the job
 * (actions/runner's StepsRunner marks it TaskResult.Canceled), so `failure()` jobs after it do not run.
 */
export function needsResultOf(status: TerminalJobStatus): NeedsResult {
  switch (status) {
    case 'succeeded':
      return 'success';
    case 'failed':
      return 'failure';
    case 'cancelled':
    case 'timed_out':
      return 'cancelled';
    case 'skipped':
      return 'skipped';
  }
}

export function isTerminal(status: JobStatus): status is TerminalJobStatus {
  return (terminalJobStatuses as readonly string[]).includes(status);
}
