import { ValkyrieError } from '../core/errors.js';
import { defaultPriority, isPriority, type Priority, priorities, queueKey } from '../core/priority.js';
import { largestMaxAttempts } from '../core/retry-delay.js';
import { maxTimerDelayMs } from '../core/timer-delay.js';
import { idempotencyKeyProblem, unstorableTextProblem } from './idempotency-key.js';
import {
  asQueueJobId,
  type ClaimRequest,
  type Completion,
  defaultMaxAttempts,
  type LeaseExpiryPolicy,
  type NewQueueJob,
  type QueueJob,
  type QueueJobState,
  type QueueOptions,
  type QueueOutcome,
  queueDefaults,
  type ResolvedQueueOptions,
  type StaleWrite,
} from './queue.js';

/** A job as both stores insert it, validated and with its queue key computed. */
export interface QueueInsert {
  readonly task: string;
  /** The payload as stored (JSON text) and as submitted, so that the result needs no parse. */
  readonly payload: string;
  readonly payloadValue: unknown;
  readonly priority: Priority;
  readonly queueKey: number;
  readonly notBefore: number | null;
  readonly maxAttempts: number;
  readonly onLeaseExpiry: LeaseExpiryPolicy;
  readonly idempotencyKey: string | null;
  readonly createdAt: number;
}

/** A queue_jobs row with integers as `I` (number in SQLite, string in Postgres) and JSON already parsed. */
export interface QueueRow<I> {
  seq: I;
  task: string;
  payload: unknown;
  priority: Priority;
  state: QueueJobState;
  attempts: number;
  created_at: I;
  not_before: I | null;
  idempotency_key: string | null;
  outcome: unknown;
}

export const queueJobColumns =
  'seq, task, payload, priority, state, attempts, created_at, not_before, idempotency_key, outcome';

export function resolveQueueOptions(options: QueueOptions = {}): ResolvedQueueOptions {
  const resolved = { ...queueDefaults, ...definedOnly(options) };
  for (const name of ['capacity', 'agingIntervalMs', 'idempotencyWindowMs', 'pollIntervalMs'] as const) {
    const value = resolved[name];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new ValkyrieError(
        'VK_USAGE',
        `queue option ${name}: expected a whole number ≥ 0, received ${String(value)}`,
      );
    }
  }
  return Object.freeze(resolved);
}

function definedOnly(options: QueueOptions): QueueOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

/**
 * Node's timers end at 2^31 - 1 ms (maxTimerDelayMs), and a holder renews at a third of its TTL. A TTL
 * the stores must refuse otherwise: NaN leased a job for ever on SQLite (its
 * expiry stored as null) and failed on Postgres ('invalid input syntax for type bigint'); a TTL of 0
 * or less gave a lease already expired.
 */
export const largestLeaseTtlMs = maxTimerDelayMs;

/** `ttlMs` when a lease may be taken or renewed for it, else VK_USAGE naming it as `where`. */
export function leaseTtl(ttlMs: number, where: string): number {
  if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > largestLeaseTtlMs) {
    throw new ValkyrieError(
      'VK_USAGE',
      `${where}: expected a whole number of milliseconds from 1 to ${largestLeaseTtlMs}, received ${String(ttlMs)}`,
    );
  }
  return ttlMs;
}

/** Postgres's integer LIMIT parameter holds the bound, as for maxAttempts. */
export const largestClaimLimit = largestMaxAttempts;

/**
 * Checks a claim's TTL and limit before anything is leased, VK_USAGE naming the one refused as
 * `${call}: request.…`. A limit of NaN, Infinity or past 2^31 - 1 failed as VK_STORE with the
 * database's words ('datatype mismatch', 'invalid input syntax for type integer'); a negative one
 * leased nothing and a fraction was rounded down, silently.
 */
export function checkClaimRequest(request: ClaimRequest, call: string): void {
  leaseTtl(request.ttlMs, `${call}: request.ttlMs`);
  const { limit } = request;
  if (!Number.isInteger(limit) || limit < 0 || limit > largestClaimLimit) {
    throw new ValkyrieError(
      'VK_USAGE',
      `${call}: request.limit: expected a whole number from 0 to ${largestClaimLimit}, received ${String(limit)}`,
    );
  }
}

/** Where a refused job sits in its batch; built only for the refusal, not for every job. */
const submitted = (i: number) => `enqueue: jobs[${i}]`;

/** Validates one submitted job (index `i` of the batch) and computes its queue key. */
export function toQueueInsert(
  job: NewQueueJob,
  i: number,
  now: number,
  agingIntervalMs: number,
): QueueInsert {
  if (typeof job.task !== 'string' || job.task === '') {
    throw new ValkyrieError(
      'VK_USAGE',
      `${submitted(i)}.task: expected a non-empty string, received ${String(job.task)}`,
    );
  }
  const priority = job.priority ?? defaultPriority;
  if (!isPriority(priority)) {
    throw new ValkyrieError(
      'VK_USAGE',
      `${submitted(i)}.priority: unknown priority ${JSON.stringify(priority)}`,
    );
  }
  const taskProblem = unstorableTextProblem(job.task);
  if (taskProblem !== undefined) throw new ValkyrieError('VK_USAGE', `${submitted(i)}.task: ${taskProblem}`);
  const maxAttempts = job.maxAttempts ?? defaultMaxAttempts;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > largestMaxAttempts) {
    throw new ValkyrieError(
      'VK_USAGE',
      `${submitted(i)}.maxAttempts: expected a whole number from 1 to ${largestMaxAttempts}, received ${String(maxAttempts)}`,
    );
  }
  const onLeaseExpiry = job.onLeaseExpiry ?? 'requeue';
  if (onLeaseExpiry !== 'requeue' && onLeaseExpiry !== 'fail') {
    throw new ValkyrieError(
      'VK_USAGE',
      `${submitted(i)}.onLeaseExpiry: expected 'requeue' or 'fail', received ${JSON.stringify(onLeaseExpiry)}`,
    );
  }
  const keyProblem = job.idempotencyKey === undefined ? undefined : idempotencyKeyProblem(job.idempotencyKey);
  if (keyProblem !== undefined)
    throw new ValkyrieError('VK_USAGE', `${submitted(i)}.idempotencyKey: ${keyProblem}`);
  const notBefore = job.notBefore ?? null;
  if (notBefore !== null && !Number.isSafeInteger(notBefore)) {
    throw new ValkyrieError(
      'VK_USAGE',
      `${submitted(i)}.notBefore: expected epoch milliseconds, received ${notBefore}`,
    );
  }
  const payloadValue = job.payload ?? null;
  return {
    task: job.task,
    payload: job.payloadJson ?? payloadText(payloadValue, i),
    payloadValue,
    priority,
    queueKey: queueKey({ priority, readyAt: now, notBefore: notBefore ?? undefined, agingIntervalMs }),
    notBefore,
    maxAttempts,
    onLeaseExpiry,
    idempotencyKey: job.idempotencyKey ?? null,
    createdAt: now,
  };
}

/**
 * The payload's JSON text; VK_USAGE naming jobs[i].payload when it has none. A BigInt or a circular
 * payload failed as VK_STORE with JSON.stringify's words, and a function as the stores' NOT NULL.
 */
function payloadText(value: unknown, i: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    // Node's circular-structure message goes on over several lines: its first says what.
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new ValkyrieError('VK_USAGE', `${submitted(i)}.payload: cannot be written as JSON: ${reason}`);
  }
  if (text === undefined) {
    throw new ValkyrieError(
      'VK_USAGE',
      `${submitted(i)}.payload: cannot be written as JSON: received a ${typeof value}`,
    );
  }
  return text;
}

export function queueFullError(queued: number, capacity: number, submitted: number): ValkyrieError {
  return new ValkyrieError(
    'VK_QUEUE_FULL',
    `the queue holds ${queued} queued jobs (capacity ${capacity}); a batch of ${submitted} new jobs ` +
      'was refused whole and nothing was written',
  );
}

export function staleLeaseError(jobId: string, token: number, action: string): ValkyrieError {
  return new ValkyrieError(
    'VK_STALE_LEASE',
    `${action} of queue job ${jobId} carried fencing token ${token}, which is no longer current ` +
      '(the lease expired or the job was settled); the write was refused and recorded',
  );
}

const succeededOutcome: QueueOutcome = Object.freeze({ kind: 'succeeded' });

/**
 * A completion's outcome as both stores write it: none for a success without a result (the state
 * says it all), else its JSON, the caller's when it made it. An outcome with no JSON is VK_USAGE
 * naming it in `batch` (the completions as given to `complete`): a BigInt or a circular result failed
 * as VK_STORE with JSON.stringify's words, and a function was dropped, the job read back without it.
 */
export function outcomeText(completion: Completion, batch: readonly Completion[]): string | null {
  const { outcome, outcomeJson } = completion;
  if (outcome.kind === 'succeeded' && outcome.result === undefined) return null;
  if (outcomeJson !== undefined) return outcomeJson;
  const refused = (reason: string) =>
    new ValkyrieError(
      'VK_USAGE',
      `complete: completions[${batch.indexOf(completion)}].outcome: cannot be written as JSON: ${reason}`,
    );
  if (
    outcome.kind === 'succeeded' &&
    (typeof outcome.result === 'function' || typeof outcome.result === 'symbol')
  ) {
    throw refused(`its result is a ${typeof outcome.result}`);
  }
  try {
    return JSON.stringify(outcome);
  } catch (error) {
    // As for a payload: Node's circular-structure message goes on over several lines.
    throw refused((error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '');
  }
}

export function queueJobFromRow(row: QueueRow<number | string>): QueueJob {
  const job: { -readonly [K in keyof QueueJob]: QueueJob[K] } = {
    id: asQueueJobId(String(row.seq)),
    task: row.task,
    payload: row.payload,
    priority: row.priority,
    state: row.state,
    attempts: row.attempts,
    createdAt: Number(row.created_at),
  };
  if (row.not_before !== null) job.notBefore = Number(row.not_before);
  if (row.idempotency_key !== null) job.idempotencyKey = row.idempotency_key;
  if (row.outcome !== null && row.outcome !== undefined) job.outcome = row.outcome as QueueOutcome;
  // A success without a result is stored without an outcome: the state says it all.
  else if (row.state === 'succeeded') job.outcome = succeededOutcome;
  return job;
}

/**
 * SQL for `core/priority.ts` priorityLevel of the row's `priority` column, so that a store can compute
 * a queue key (`start + level × agingInterval`) for a row without reading it first.
 */
export const priorityLevelSql = `(CASE priority ${priorities
  .map((priority, level) => `WHEN '${priority}' THEN ${level}`)
  .join(' ')} ELSE ${priorities.indexOf(defaultPriority)} END)`;

/** Validates a release's not-before time (index `i` of the batch). */
export function releaseNotBefore(notBefore: number | undefined, i: number): number | null {
  if (notBefore === undefined) return null;
  if (!Number.isSafeInteger(notBefore)) {
    throw new ValkyrieError(
      'VK_USAGE',
      `release: releases[${i}].notBefore: expected epoch milliseconds, received ${notBefore}`,
    );
  }
  return notBefore;
}

export function staleAction(action: string): StaleWrite['action'] {
  return action === 'renew' || action === 'release' ? action : 'complete';
}

/** The job as `enqueue` wrote it, built directly: no row to read back, the payload as submitted. */
export function enqueuedJob(insert: QueueInsert, id: string): QueueJob {
  const job: { -readonly [K in keyof QueueJob]: QueueJob[K] } = {
    id: asQueueJobId(id),
    task: insert.task,
    payload: insert.payloadValue,
    priority: insert.priority,
    state: 'queued',
    attempts: 0,
    createdAt: insert.createdAt,
  };
  if (insert.notBefore !== null) job.notBefore = insert.notBefore;
  if (insert.idempotencyKey !== null) job.idempotencyKey = insert.idempotencyKey;
  return job;
}
