import type { AttemptStatus, TerminalJobStatus } from '../core/outcome.js';
import {
  type AttemptOutcome,
  decideRetry,
  describeAttemptOutcome,
  formatDelay,
  type RetryDecision,
  type RetryPolicy,
} from '../core/retry-delay.js';
import type { JobRunner } from '../store/runs.js';
import { type Effect, type Leg, moveLeg } from './leg.js';

/** One ended attempt of a job that another attempt follows. */
export interface EndedAttempt {
  readonly attempt: number;
  readonly status: AttemptStatus;
  readonly startedAt?: number;
  readonly finishedAt: number;
  readonly reason?: string;
  readonly runner?: JobRunner;
  /** The fencing token of `runner`'s lease on the attempt (RunStore's JobAttemptRecord.fencingToken). */
  readonly fencingToken?: number;
}

/**
 * Ends the leg's current attempt as `status` at `at` and moves it, queued, to its next attempt, which
 * has not started anywhere yet; the ended attempt is returned for the records.
 */
export function endAttempt(
  leg: Leg,
  status: AttemptStatus,
  at: number,
  reason: string | undefined,
): EndedAttempt {
  const { attempt, startedAt, runner, fencingToken } = leg;
  const ended: EndedAttempt = { attempt, status, startedAt, finishedAt: at, reason, runner, fencingToken };
  moveLeg(leg, 'queued');
  leg.attempt += 1;
  leg.seriesStartedAt ??= startedAt;
  leg.startedAt = undefined;
  leg.finishedAt = undefined;
  leg.reason = undefined;
  leg.runner = undefined;
  leg.fencingToken = undefined;
  return ended;
}

/**
 * A running attempt lost its runner and the job is requeued (`on-runner-lost: requeue`): the attempt
 * ends `runner_lost` (not `failed`: the loss is not the job's) with `reason` (a `runner_lost:` one) at `endedAt`, and the leg moves, queued, to its
 * next attempt, which uses up no retry of the job. The `retry` effect carries the ended attempt and
 * the job log's line on it: `attempt 1 ended (runner_lost: …); requeued as attempt 2`.
 */
export function requeueLostLeg(
  leg: Leg,
  reason: string,
  endedAt: number,
): Extract<Effect, { readonly kind: 'retry' }> {
  const ended = endAttempt(leg, 'runner_lost', endedAt, reason);
  leg.triesFrom = (leg.triesFrom ?? 1) + 1;
  const line = `attempt ${ended.attempt} ended (${reason}); requeued as attempt ${leg.attempt}`;
  return { kind: 'retry', leg, ended, delayMs: 0, reason: `${reason}; requeued`, line };
}

/** What a job's final status means for `retry.when`, when the caller knows nothing more specific. */
export function attemptOutcomeOfStatus(status: TerminalJobStatus): AttemptOutcome {
  switch (status) {
    case 'succeeded':
    case 'cancelled':
    case 'skipped':
      return { kind: status };
    case 'failed':
      return { kind: 'failed' };
    case 'timed_out':
      return { kind: 'timed_out' };
  }
}

/**
 * Whether a job attempt that ended so is followed by another. Only a running attempt can be retried
 * (a job that never started has nothing to repeat), and nothing is retried once the run is cancelled.
 */
export function jobRetryDecision(
  policy: RetryPolicy | undefined,
  outcome: AttemptOutcome,
  attempt: number,
  runCancelled: boolean,
  random: () => number,
): RetryDecision {
  if (policy === undefined || runCancelled) return { kind: 'final', why: 'not_retryable' };
  return decideRetry(policy, outcome, attempt, random);
}

/** Why an attempt is retried: the runner's reason when it gave one (it names the step), else `timeout` etc. */
export function retryReason(outcome: AttemptOutcome, reason: string | undefined): string {
  return reason === undefined || reason === '' ? describeAttemptOutcome(outcome) : reason;
}

/**
 * Moves a running leg whose attempt ended to its next attempt, queued until the decision's delay has
 * passed; the `retry` effect carries the ended attempt for the records, and the job log's line on it.
 */
export function retryLeg(
  leg: Leg,
  status: TerminalJobStatus,
  at: number,
  reason: string | undefined,
  outcome: AttemptOutcome,
  decision: { readonly delayMs: number; readonly nextAttempt: number },
  /** When the attempt ended, if before `at` (a lost attempt found on a resume, a runner's late report). */
  endedAt = at,
): Effect {
  const why = retryReason(outcome, reason);
  const ended = endAttempt(leg, status, endedAt, reason);
  leg.notBefore = at + decision.delayMs;
  const tries = decision.nextAttempt - 1;
  const tried = { tries, max: leg.retry?.maxAttempts ?? decision.nextAttempt };
  const line = retryLogLine(ended.attempt, tried, decision.delayMs, why);
  return { kind: 'retry', leg, ended, delayMs: decision.delayMs, reason: why, line };
}

/**
 * The job log's line on a retried attempt, as a step's retry says it:
 * `attempt 1 of 3 failed (step "build" failed with exit code 3); retrying in 2s`. `tried` counts as
 * `max-attempts` does; after a re-run (or a requeue, which uses up no try) the attempt's number runs
 * ahead of it, and the line says both: `attempt 4 (try 1 of 3) failed (…)`.
 */
export function retryLogLine(
  attempt: number,
  tried: { readonly tries: number; readonly max: number },
  delayMs: number,
  why: string,
): string {
  const of =
    attempt === tried.tries
      ? `${attempt} of ${tried.max}`
      : `${attempt} (try ${tried.tries} of ${tried.max})`;
  return `attempt ${of} failed (${why}); retrying in ${formatDelay(delayMs)}`;
}
