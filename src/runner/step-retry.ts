import type { ProcessOutcome, StepResult } from '../core/outcome.js';
import {
  type AttemptOutcome,
  decideRetry,
  describeAttemptOutcome,
  formatDelay,
  type RetryDecision,
  type RetryPolicy,
} from '../core/retry-delay.js';
import { timerDelay } from '../core/timer-delay.js';
import type { StepReport } from '../protocol/messages.js';
import type { StepDefinition } from '../workflow/model.js';

/** How a step's process ended, in the terms of `retry.when`. */
export function attemptOutcomeOf(outcome: ProcessOutcome): AttemptOutcome {
  switch (outcome.kind) {
    case 'exited':
      return outcome.exitCode === 0 ? { kind: 'succeeded' } : { kind: 'failed', exitCode: outcome.exitCode };
    case 'timed_out':
      return { kind: 'timed_out' };
    case 'cancelled':
      return { kind: 'cancelled' };
    case 'failed_to_start':
      return { kind: 'failed' };
  }
}

/**
 * Whether a step attempt is followed by another. A step without `retry:` runs once; an interrupted
 * job (cancelled, timed out) never starts another attempt, whatever the step's own outcome says.
 */
export function stepRetryDecision(
  policy: RetryPolicy | undefined,
  outcome: ProcessOutcome,
  attempt: number,
  jobInterrupted: boolean,
  random: () => number = Math.random,
): RetryDecision {
  if (policy === undefined || jobInterrupted) return { kind: 'final', why: 'not_retryable' };
  return decideRetry(policy, attemptOutcomeOf(outcome), attempt, random);
}

export type RetryWait =
  | { readonly kind: 'elapsed' }
  | { readonly kind: 'interrupted'; readonly reason: string };

/**
 * Waits out a retry delay. Resolves at once, with `interrupted`, when any signal aborts (also one
 * aborted before the call): cancellation must not sit out a five-minute backoff. Listeners are removed
 * whichever way it ends.
 */
export function waitBeforeRetry(delayMs: number, signals: readonly AbortSignal[]): Promise<RetryWait> {
  const aborted = signals.find((signal) => signal.aborted);
  if (aborted) return Promise.resolve({ kind: 'interrupted', reason: String(aborted.reason) });
  return new Promise((resolve) => {
    const finish = (result: RetryWait) => {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = (event: Event) => {
      const signal = event.target as AbortSignal;
      finish({ kind: 'interrupted', reason: String(signal.reason) });
    };
    const timer = setTimeout(() => finish({ kind: 'elapsed' }), timerDelay(delayMs));
    for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** One attempt of a step, as the job run reports it. */
export interface StepAttempt {
  readonly outcome: ProcessOutcome;
  readonly result: StepResult;
  readonly exitCode?: number;
  readonly startedAt: number;
  readonly continueOnError: boolean;
  /** Set when the step's timeout-minutes stopped it: that limit, in ms. */
  readonly timedOutAfterMs?: number;
}

export interface AttemptHooks {
  /** Starts attempt `attempt` (from 1) and resolves once it has ended. */
  run(attempt: number): Promise<StepAttempt>;
  /** True once the job is cancelled or timed out: no further attempt starts then. */
  interrupted(): boolean;
  /** Another attempt follows `attempt` after `delayMs`; returns the signals that end that wait early. */
  retrying(attempt: StepAttempt, delayMs: number): readonly AbortSignal[];
}

/**
 * The retry loop of one step: runs attempts until one is final under the policy (or the job is
 * interrupted, or a wait is). `reported` tells whether `retrying` already saw the last attempt.
 */
export async function runAttempts(
  policy: RetryPolicy | undefined,
  hooks: AttemptHooks,
  random: () => number = Math.random,
): Promise<{ readonly last: StepAttempt; readonly reported: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const last = await hooks.run(attempt);
    const decision = stepRetryDecision(policy, last.outcome, attempt, hooks.interrupted(), random);
    if (decision.kind === 'final') return { last, reported: false };
    const signals = hooks.retrying(last, decision.delayMs);
    const waited = await waitBeforeRetry(decision.delayMs, signals);
    // Also when the interruption came just as the wait ran out: no attempt starts after it.
    if (waited.kind === 'interrupted' || hooks.interrupted()) return { last, reported: true };
  }
}

/**
 * The attempts in all of a step with `retry:`, which each of its attempts' reports carries
 * (StepReport.maxAttempts) for `show` and `logs` to say `attempt 2 of 3`; none without `retry:`.
 */
export function maxAttemptsField(step: StepDefinition): { readonly maxAttempts?: number } {
  return step.retry === undefined ? {} : { maxAttempts: step.retry.maxAttempts };
}

/**
 * The log line and record of attempt `number` of `step`, which another follows after `retryDelayMs`:
 * the record is not the step's result (steps.<id> keeps waiting).
 */
export function retriedAttempt(
  step: StepDefinition,
  attempt: StepAttempt,
  number: number,
  retryDelayMs: number,
): { readonly note: string; readonly report: StepReport } {
  const why = describeAttemptOutcome(attemptOutcomeOf(attempt.outcome));
  const note = `attempt ${number} of ${step.retry?.maxAttempts} failed (${why}); retrying in ${formatDelay(retryDelayMs)}`;
  const report: StepReport = {
    index: step.index,
    name: step.name,
    outcome: attempt.result,
    conclusion: attempt.result,
    exitCode: attempt.exitCode,
    startedAt: attempt.startedAt,
    finishedAt: Date.now(),
    attempt: number,
    retryDelayMs,
    ...(attempt.timedOutAfterMs === undefined ? {} : { timedOutAfterMs: attempt.timedOutAfterMs }),
    ...maxAttemptsField(step),
  };
  return { note, report };
}
