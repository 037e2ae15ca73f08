import { durationHint, parseDuration } from '../core/duration.js';
import {
  defaultRetryPolicy,
  largestMaxAttempts,
  type RetryCondition,
  type RetryPolicy,
} from '../core/retry-delay.js';
import type { RetryDocument } from './schema.js';
import { describeValue } from './schema-issues.js';
import type { YamlPath } from './source-map.js';

/**
 * A `retry:` value the schema accepted but that makes no sense; `path` is relative to the `retry:` key.
 * An error's message follows the value's full path (`jobs.a.retry.delay must be …`), as a schema
 * error's does; a warning's is a whole sentence.
 */
export interface RetryProblem {
  readonly path: YamlPath;
  readonly message: string;
}

/**
 * The resolved policy of a `retry:` mapping, defaults filled in. Values that retryProblems() reports
 * fall back to their defaults here; such a workflow never reaches the engine anyway.
 */
export function resolveRetryPolicy(document: RetryDocument | undefined): RetryPolicy | undefined {
  if (document === undefined) return undefined;
  const maxAttempts = document['max-attempts'];
  const delayMs = durationOf(document.delay);
  const maxDelayMs = durationOf(document['max-delay']);
  return Object.freeze({
    maxAttempts: isAttemptCount(maxAttempts) ? maxAttempts : defaultRetryPolicy.maxAttempts,
    backoff: document.backoff ?? defaultRetryPolicy.backoff,
    delayMs: delayMs ?? defaultRetryPolicy.delayMs,
    maxDelayMs: maxDelayMs ?? defaultRetryPolicy.maxDelayMs,
    jitter: jitterOf(document.jitter) ?? defaultRetryPolicy.jitter,
    when: document.when === undefined ? defaultRetryPolicy.when : document.when.map(conditionOf),
  });
}

/** Every problem of a `retry:` mapping at once. */
export function retryProblems(document: RetryDocument): RetryProblem[] {
  const problems: RetryProblem[] = [];
  const maxAttempts = document['max-attempts'];
  if (maxAttempts !== undefined && !isAttemptCount(maxAttempts)) {
    problems.push({
      path: ['max-attempts'],
      message: `must be a whole number from 1 to ${largestMaxAttempts}, received ${maxAttempts}`,
    });
  }
  for (const key of ['delay', 'max-delay'] as const) {
    const value = document[key];
    if (value !== undefined && durationOf(value) === undefined) {
      problems.push({
        path: [key],
        message: `must be ${durationHint}, received ${describeValue(value)}`,
      });
    }
  }
  if (document.jitter !== undefined && jitterOf(document.jitter) === undefined) {
    problems.push({
      path: ['jitter'],
      message: `must be true, false or a number from 0 to 1, received ${document.jitter}`,
    });
  }
  for (const [i, condition] of (document.when ?? []).entries()) {
    if (typeof condition === 'string') continue;
    for (const [j, code] of condition['exit-codes'].entries()) {
      if (!Number.isInteger(code) || code < 1 || code > 255) {
        problems.push({
          path: ['when', i, 'exit-codes', j],
          message: `must be a whole number from 1 to 255 (an exit code), received ${code}`,
        });
      }
    }
  }
  return problems;
}

/**
 * What a valid `retry:` mapping says that can never take effect: a `when:` that names nothing, a
 * `runner-lost` a step or a requeued job never sees, a `max-delay` that caps every wait below `delay`.
 * Warnings: the workflow still runs, as written.
 */
export function retryWarnings(
  document: RetryDocument,
  owner: { readonly step: true } | { readonly step: false; readonly onRunnerLost: string | undefined },
): RetryProblem[] {
  const warnings: RetryProblem[] = [];
  const maxAttempts = document['max-attempts'] ?? defaultRetryPolicy.maxAttempts;
  const when = document.when;
  const named = when?.filter(
    (condition) => typeof condition === 'string' || condition['exit-codes'].length > 0,
  );
  if (named !== undefined && named.length === 0 && maxAttempts > 1) {
    warnings.push({
      path: ['when'],
      message:
        'retry.when names no condition, so nothing is retried: list failure, timeout, runner-lost or exit-codes, or leave it out',
    });
  }
  for (const [i, condition] of (when ?? []).entries()) {
    if (condition !== 'runner-lost' || (!owner.step && owner.onRunnerLost === 'fail')) continue;
    warnings.push({
      path: ['when', i],
      message: owner.step
        ? 'retry.when: runner-lost applies to jobs only: a step loses its runner only with its job, so it is never retried for that'
        : 'retry.when: runner-lost takes effect only with on-runner-lost: fail; under requeue (the default) a job whose runner is lost is queued again without using an attempt',
    });
  }
  const delayMs = durationOf(document.delay);
  const maxDelayMs = durationOf(document['max-delay']);
  if (delayMs !== undefined && maxDelayMs !== undefined && maxDelayMs < delayMs) {
    warnings.push({
      path: ['max-delay'],
      message: `retry.max-delay (${describeValue(document['max-delay'])}) is shorter than retry.delay (${describeValue(document.delay)}): every wait is max-delay`,
    });
  }
  return warnings;
}

function isAttemptCount(value: number | undefined): value is number {
  return value !== undefined && Number.isInteger(value) && value >= 1 && value <= largestMaxAttempts;
}

function durationOf(value: string | number | undefined): number | undefined {
  return value === undefined ? undefined : parseDuration(value);
}

function jitterOf(value: boolean | number | undefined): number | undefined {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value === undefined || !(value >= 0 && value <= 1)) return undefined;
  return value;
}

function conditionOf(condition: NonNullable<RetryDocument['when']>[number]): RetryCondition {
  if (typeof condition === 'string') return { kind: condition };
  return { kind: 'exit-codes', codes: [...condition['exit-codes']] };
}
