import { ValkyrieError } from '../core/errors.js';
import { isRecord } from '../core/is-record.js';
import type { ShownAttempt, ShownStep } from './views/attempts.js';

/** An ended attempt of a job, as `GET /api/v1/runs/:id` shows it (JobAttempt). */
export interface ApiJobAttempt extends ShownAttempt {
  readonly finishedAt: number;
  readonly durationMs?: number;
  readonly retry?: { readonly delayMs: number; readonly reason: string };
}

/** An attempt of a step, as `GET /api/v1/runs/:id` shows it (StepView). */
export type ApiStep = ShownStep & { readonly durationMs?: number };

/**
 * A job's `attempts` and `steps` of a single run's view, checked; `{}` when the answer has neither
 * (a server from before them, or the runs list), so `valkyrie show --server` says what it was told.
 */
export function readJobDetails(job: Record<string, unknown>): {
  attempts?: ApiJobAttempt[];
  steps?: ApiStep[];
} {
  const { attempts, steps } = job;
  if (!Array.isArray(attempts) || !Array.isArray(steps)) return {};
  return { attempts: attempts.map(readAttempt), steps: steps.map(readStep) };
}

function readAttempt(attempt: unknown): ApiJobAttempt {
  if (
    !isRecord(attempt) ||
    typeof attempt.attempt !== 'number' ||
    typeof attempt.status !== 'string' ||
    typeof attempt.finishedAt !== 'number'
  )
    throw answerWithout('jobs[].attempts [{attempt, status, finishedAt}]');
  const { retry, runner } = attempt;
  return {
    attempt: attempt.attempt,
    status: attempt.status,
    ...numbers(attempt, ['startedAt']),
    finishedAt: attempt.finishedAt,
    ...numbers(attempt, ['durationMs']),
    ...strings(attempt, ['reason']),
    ...(isRecord(retry) && typeof retry.delayMs === 'number' && typeof retry.reason === 'string'
      ? { retry: { delayMs: retry.delayMs, reason: retry.reason } }
      : {}),
    ...(isRecord(runner) && typeof runner.id === 'string' && typeof runner.name === 'string'
      ? { runner: { id: runner.id, name: runner.name } }
      : {}),
  };
}

const stepNumbers = [
  'jobAttempt',
  'attempt',
  'exitCode',
  'startedAt',
  'finishedAt',
  'durationMs',
  'retryDelayMs',
  'timedOutAfterMs',
  'maxAttempts',
] as const;

function readStep(step: unknown): ApiStep {
  if (!isRecord(step) || typeof step.index !== 'number' || typeof step.name !== 'string')
    throw answerWithout('jobs[].steps [{index, name}]');
  return {
    index: step.index,
    name: step.name,
    ...strings(step, ['outcome', 'conclusion']),
    ...numbers(step, stepNumbers),
  };
}

function numbers<K extends string>(
  value: Record<string, unknown>,
  keys: readonly K[],
): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  for (const key of keys) {
    const item = value[key];
    if (typeof item === 'number') out[key] = item;
  }
  return out;
}

function strings<K extends string>(
  value: Record<string, unknown>,
  keys: readonly K[],
): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const item = value[key];
    if (typeof item === 'string') out[key] = item;
  }
  return out;
}

function answerWithout(expected: string): ValkyrieError {
  return new ValkyrieError('VK_SERVER_RESPONSE', `the server answered without ${expected}`);
}
