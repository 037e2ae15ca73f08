/**
 * Retry policies of jobs and steps: when another attempt is made, and how long to wait before it.
 * Pure: the clock and the random source belong to the caller.
 *
 * Defaults follow what users of cockatiel and p-retry expect: exponential backoff from 1 s, capped at
 * 5 min, no jitter, retrying failures, timeouts and lost runners. `max-attempts` counts every attempt,
 * the first included, so the default of 1 means "no retries" until a workflow asks for them.
 */
export const backoffKinds = ['fixed', 'linear', 'exponential', 'fibonacci'] as const;
export type Backoff = (typeof backoffKinds)[number];

/** What an attempt's failure must look like to be retried (`when:` in the workflow). */
export type RetryCondition =
  | { readonly kind: 'failure' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'runner-lost' }
  | { readonly kind: 'exit-codes'; readonly codes: readonly number[] };

export interface RetryPolicy {
  /** Attempts in all, the first included; at least 1. */
  readonly maxAttempts: number;
  readonly backoff: Backoff;
  /** The base delay, in ms. */
  readonly delayMs: number;
  /** No wait is longer than this, jitter included. */
  readonly maxDelayMs: number;
  /**
   * The share of each delay that is randomised, 0 to 1: the wait is drawn uniformly from
   * `[d × (1 − jitter), d]` where d is the capped delay. 1 is AWS's "full jitter", 0.5 its
   * "equal jitter", 0 none. Waits never grow past the unjittered delay, so max-delay still holds.
   */
  readonly jitter: number;
  readonly when: readonly RetryCondition[];
}

export const defaultRetryPolicy: RetryPolicy = Object.freeze({
  maxAttempts: 1,
  backoff: 'exponential',
  delayMs: 1000,
  maxDelayMs: 5 * 60_000,
  jitter: 0,
  when: Object.freeze([
    { kind: 'failure' },
    { kind: 'timeout' },
    { kind: 'runner-lost' },
  ] as const satisfies readonly RetryCondition[]),
});

/** How one attempt ended, as far as retrying is concerned. */
export type AttemptOutcome =
  | { readonly kind: 'succeeded' }
  /** exitCode is absent when no process exit explains the failure (failed to start, a bad expression). */
  | { readonly kind: 'failed'; readonly exitCode?: number }
  | { readonly kind: 'timed_out' }
  | { readonly kind: 'runner_lost' }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'skipped' };

/**
 * The wait before the attempt after `attempt` (the 1-based attempt that just failed), in ms.
 * fixed: d; linear: d × n; exponential: d × 2^(n−1); fibonacci: d × F(n) with F = 1, 1, 2, 3, 5, …
 * Capped at maxDelayMs, then jittered downwards and rounded to the nearest whole millisecond (timers fire
 * in whole ms, and a delay of 1234.5678 ms reads as noise in `--json` and the views); `random`
 * returns a number in [0, 1).
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const capped = Math.min(baseDelay(policy, Math.max(1, Math.floor(attempt))), policy.maxDelayMs);
  const delay = Math.max(0, capped);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  if (jitter === 0 || delay === 0) return delay;
  const r = Math.min(1, Math.max(0, random()));
  return Math.min(delay, Math.round(delay * (1 - jitter * r)));
}

function baseDelay(policy: RetryPolicy, attempt: number): number {
  const { delayMs, maxDelayMs } = policy;
  // Zero times an overflowing factor would be NaN; zero it stays.
  if (delayMs <= 0) return 0;
  switch (policy.backoff) {
    case 'fixed':
      return delayMs;
    case 'linear':
      return delayMs * attempt;
    case 'exponential':
      // Past 2^1024 the factor is Infinity, which the cap turns into maxDelayMs.
      return delayMs * 2 ** (attempt - 1);
    case 'fibonacci': {
      let previous = 0;
      let current = 1;
      // Stops early once past the cap, so a huge attempt number costs nothing.
      for (let n = 1; n < attempt && delayMs * current <= maxDelayMs; n++) {
        [previous, current] = [current, previous + current];
      }
      return delayMs * current;
    }
  }
}

/** Whether the policy's `when:` covers this outcome; success, cancellation and skips never retry. */
export function matchesWhen(policy: RetryPolicy, outcome: AttemptOutcome): boolean {
  return policy.when.some((condition) => conditionMatches(condition, outcome));
}

function conditionMatches(condition: RetryCondition, outcome: AttemptOutcome): boolean {
  switch (condition.kind) {
    case 'failure':
      return outcome.kind === 'failed';
    case 'timeout':
      return outcome.kind === 'timed_out';
    case 'runner-lost':
      return outcome.kind === 'runner_lost';
    case 'exit-codes':
      return (
        outcome.kind === 'failed' &&
        outcome.exitCode !== undefined &&
        condition.codes.includes(outcome.exitCode)
      );
  }
}

/** Whether the attempt numbered `attempt` (from 1), having ended so, is followed by another. */
export function shouldRetry(policy: RetryPolicy, outcome: AttemptOutcome, attempt: number): boolean {
  return attempt < policy.maxAttempts && matchesWhen(policy, outcome);
}

export type RetryDecision =
  | { readonly kind: 'retry'; readonly nextAttempt: number; readonly delayMs: number }
  | { readonly kind: 'final'; readonly why: 'not_retryable' | 'attempts_exhausted' };

/** shouldRetry and retryDelay in one answer, for callers that act on it. */
export function decideRetry(
  policy: RetryPolicy,
  outcome: AttemptOutcome,
  attempt: number,
  random: () => number = Math.random,
): RetryDecision {
  if (!matchesWhen(policy, outcome)) return { kind: 'final', why: 'not_retryable' };
  if (attempt >= policy.maxAttempts) return { kind: 'final', why: 'attempts_exhausted' };
  return { kind: 'retry', nextAttempt: attempt + 1, delayMs: retryDelay(policy, attempt, random) };
}

/** A word for an outcome in logs and events: `failure`, `timeout`, `runner-lost`, `exit code 3`. */
export function describeAttemptOutcome(outcome: AttemptOutcome): string {
  switch (outcome.kind) {
    case 'failed':
      return outcome.exitCode === undefined ? 'failure' : `exit code ${outcome.exitCode}`;
    case 'timed_out':
      return 'timeout';
    case 'runner_lost':
      return 'runner-lost';
    default:
      return outcome.kind;
  }
}

/** `250ms`, `1.5s`, `2m`: a delay as "retrying in …" lines show it. */
export function formatDelay(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  return `${Number((ms / 60_000).toFixed(1))}m`;
}

/**
 * The most attempts a job or step may be given, in a workflow's `retry:` and in the library's
 * options: Postgres's integer columns hold it (SQLite would take more, and must not take what
 * Postgres refuses), and the job spec a runner receives holds only safe integers.
 */
export const largestMaxAttempts = 2_147_483_647;
