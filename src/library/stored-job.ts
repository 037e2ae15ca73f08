import { messageOf } from '../core/error-message.js';
import { isValkyrieError } from '../core/errors.js';
import type { Priority } from '../core/priority.js';
import type { TaskOutcome } from '../executors/thread/outcome.js';
import type {
  CancelOutcome,
  Completion,
  LeaseRef,
  QueueJob,
  QueueJobState,
  QueueOutcome,
} from '../store/queue.js';
import type { JobOutcome } from './events.js';
import { knownFields } from './option-keys.js';
import type { JobOptions, ResolvedJobOptions, ResolvedRetryPolicy } from './options.js';

/**
 * How a library job is kept in a durable QueueStore: the store's `task` is the registered task name,
 * and its payload carries the input and — only when they differ from the library's defaults — the
 * options any engine needs to run it as it was enqueued: the enqueuing engine's `retry` default is
 * the job's effective policy, so it travels (a worker engine with other defaults applies it). Priority, delay, idempotency key
 * and the attempt bound are the store's own fields.
 */
export interface StoredPayload {
  readonly input: unknown;
  readonly options?: StoredOptions;
}

interface StoredOptions {
  readonly priority: string;
  /** null stands for Infinity, which JSON cannot hold. */
  readonly timeoutMs?: number | null;
  readonly retry: ResolvedRetryPolicy;
}

export function storedPayload(
  input: unknown,
  options: ResolvedJobOptions,
  libraryRetry: ResolvedRetryPolicy,
): StoredPayload {
  if (options.priority === 'normal' && options.timeoutMs === undefined && options.retry === libraryRetry) {
    return { input };
  }
  const timeoutMs = options.timeoutMs;
  return {
    input,
    options: {
      priority: options.priority,
      ...(timeoutMs === undefined ? {} : { timeoutMs: Number.isFinite(timeoutMs) ? timeoutMs : null }),
      retry: options.retry,
    },
  };
}

/** A stored payload read back; options as `JobOptions`, to be checked like a caller's. */
export function readPayload(payload: unknown): { input: unknown; options: JobOptions | undefined } {
  if (typeof payload !== 'object' || payload === null) return { input: payload, options: undefined };
  const { input, options } = payload as { input?: unknown; options?: Partial<StoredOptions> };
  if (typeof options !== 'object' || options === null) return { input, options: undefined };
  return {
    input,
    options: {
      priority: options.priority as JobOptions['priority'],
      timeoutMs: options.timeoutMs === null ? Number.POSITIVE_INFINITY : options.timeoutMs,
      // A later Valkyrie may store retry fields this one does not know; the ones it knows still hold.
      retry: knownFields(options.retry, 'retry'),
    },
  };
}

/** The record of most jobs (a task that returned nothing): one shared object, not one per job. */
const succeededWithoutResult: Completion['outcome'] = Object.freeze({ kind: 'succeeded', result: undefined });

/**
 * A job the store did not take: refused by it (capacity, the database gone, a key held by another
 * job) ends `cancelled` with its message, and its code when it is one of ours, which tell it apart
 * from a cancellation someone asked for. An input that could not be encoded is not the store's
 * refusal: the writer fails it as `failed`/`input` (notJsonOutcome) before the store sees it.
 */
export function refusedOutcome(error: unknown): TaskOutcome {
  const reason = `the store refused the job: ${messageOf(error)}`;
  return isValkyrieError(error)
    ? { kind: 'cancelled', reason, code: error.code }
    : { kind: 'cancelled', reason };
}

/**
 * The store's record of a final outcome (its output in JSON form: json-value.ts `jsonOutcome`). A
 * failure keeps the whole task outcome as `detail`, so an engine that finds the job finished (by idempotency key) reports it
 * exactly; `error` is for people. A result's JSON goes to the store with it, which then need not
 * encode it again.
 */
export function storedCompletion(lease: LeaseRef, outcome: TaskOutcome, attempts: number): Completion {
  if (outcome.kind !== 'succeeded') {
    return { lease, outcome: { kind: 'failed', error: describe(outcome), detail: { ...outcome, attempts } } };
  }
  if (outcome.output === undefined) return { lease, outcome: succeededWithoutResult };
  const stored = { kind: 'succeeded', result: outcome.output } as const;
  return { lease, outcome: stored, outcomeJson: JSON.stringify(stored) };
}

/** What the store records for a job cancelled through the engine: a failure whose detail says so. */
export function storedCancellation(reason: string, attempts: number): CancelOutcome {
  return { error: `cancelled: ${reason}`, detail: { kind: 'cancelled', reason, attempts } };
}

function describe(outcome: Exclude<TaskOutcome, { kind: 'succeeded' }>): string {
  switch (outcome.kind) {
    case 'failed':
      return `${outcome.reason}: ${outcome.error.name}: ${outcome.error.message}`;
    case 'timed_out':
      return `timed out after ${outcome.timeoutMs} ms`;
    case 'cancelled':
      return `cancelled: ${outcome.reason}`;
    case 'worker_lost':
      return `worker lost (${outcome.reason}): ${outcome.message}`;
  }
}

/** A job as a durable store holds it: what `engine.getStoredJob` returns. */
export interface StoredJob {
  /** The store's id (`JobHandle.storeId`). */
  readonly id: string;
  readonly task: string;
  /** `leased`: held by an engine, running or about to; a job waiting for a retry is `queued` again. */
  readonly state: QueueJobState;
  /** Attempts begun so far, by any engine on the store. */
  readonly attempts: number;
  readonly priority: Priority;
  /** epoch ms */
  readonly createdAt: number;
  /** epoch ms: not started before this (a delay, or a retry's wait). */
  readonly notBefore?: number;
  readonly idempotencyKey?: string;
  readonly input: unknown;
  /** Once finished: as `job.result` resolved, or would have. */
  readonly outcome?: JobOutcome;
}

export function storedJobView(job: QueueJob): StoredJob {
  const outcome = outcomeOfStoredJob(job);
  return {
    id: job.id,
    task: job.task,
    state: job.state,
    attempts: job.attempts,
    priority: job.priority,
    createdAt: job.createdAt,
    ...(job.notBefore === undefined ? {} : { notBefore: job.notBefore }),
    ...(job.idempotencyKey === undefined ? {} : { idempotencyKey: job.idempotencyKey }),
    input: readPayload(job.payload).input,
    ...(outcome === undefined ? {} : { outcome }),
  };
}

/** A finished job's outcome as the store holds it, as a `JobOutcome`; undefined while unfinished. */
export function outcomeOfStoredJob(job: QueueJob): JobOutcome | undefined {
  const outcome: QueueOutcome | undefined = job.outcome;
  if (outcome === undefined) return undefined;
  const attempts = job.attempts;
  switch (outcome.kind) {
    case 'succeeded':
      return { kind: 'succeeded', output: outcome.result, attempts };
    case 'runner_lost':
      return {
        kind: 'worker_lost',
        reason: 'crashed',
        message: `the process running the job stopped renewing its lease (attempt ${outcome.attempts})`,
        attempts,
      };
    case 'failed': {
      const detail = outcome.detail as { kind?: unknown } | undefined;
      if (typeof detail === 'object' && detail !== null && typeof detail.kind === 'string') {
        // An output JSON could not hold, as earlier engines recorded it, has no error: the record's text is it.
        const error = (detail as { error?: unknown }).error;
        if (detail.kind === 'failed' && (typeof error !== 'object' || error === null)) {
          const failed = detail as Extract<JobOutcome, { kind: 'failed' }>;
          return { ...failed, error: { name: 'TypeError', message: outcome.error }, attempts };
        }
        return { ...(detail as JobOutcome), attempts };
      }
      return { kind: 'failed', reason: 'threw', error: { name: 'Error', message: outcome.error }, attempts };
    }
  }
}
