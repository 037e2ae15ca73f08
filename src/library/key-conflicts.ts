import { ValkyrieError } from '../core/errors.js';
import type { EnqueueResult } from '../store/queue.js';
import type { IdempotencyKeys } from './idempotency-keys.js';
import { jobFingerprint } from './job-fingerprint.js';
import { type JobHandle, JobRecord } from './job-record.js';
import { RefusedInput } from './refused-input.js';
import { readPayload } from './stored-job.js';

/**
 * An idempotency key is one job's: the same task and input again (`jobFingerprint`) is a repeat,
 * which gets that job's handle; another task or input under the key is refused with
 * VK_IDEMPOTENCY_CONFLICT, as the CLI and the API refuse a key reused for another request.
 */

/**
 * The handle of the job a keyed job repeats; undefined when its key is new, which it now holds.
 * Throws VK_IDEMPOTENCY_CONFLICT at `where` for a key held by another task or input.
 * `fingerprint`: the job's, when already made.
 */
export function claimKey(
  keys: IdempotencyKeys,
  where: string,
  job: JobRecord,
  fingerprint?: string,
): JobHandle | undefined {
  const key = job.options.idempotencyKey;
  if (key === undefined) return undefined;
  const print = fingerprint ?? jobFingerprint(job.task.name, job.input);
  const holder = keys.holder(key);
  if (holder === undefined) {
    keys.add(key, job, print);
    return undefined;
  }
  if (holder.fingerprint !== print) throw keyConflict(where, key, holder.handle, job);
  return holder.handle;
}

/**
 * The fingerprints of an enqueueMany's keyed jobs (undefined without any), checked against the
 * keys known and each other before any job is queued, so that a conflict refuses the whole call.
 * A job refused for its input is left out, as a sequence of `enqueue` calls would leave it.
 */
export function checkBatchKeys(
  keys: IdempotencyKeys,
  jobs: readonly JobRecord[],
): (string | undefined)[] | undefined {
  let prints: (string | undefined)[] | undefined;
  let inCall: Map<string, { handle: JobRecord; fingerprint: string }> | undefined;
  jobs.forEach((job, i) => {
    const key = job.options.idempotencyKey;
    // A job whose input JSON cannot hold is never queued and holds no key (as in JobIntake.admit):
    // it ends failed/input alone, whatever else the call holds under its key.
    if (key === undefined || job.input instanceof RefusedInput) return;
    const fingerprint = jobFingerprint(job.task.name, job.input);
    prints ??= new Array(jobs.length);
    prints[i] = fingerprint;
    inCall ??= new Map();
    const holder = inCall.get(key) ?? keys.holder(key);
    if (holder === undefined) inCall.set(key, { handle: job, fingerprint });
    else if (holder.fingerprint !== fingerprint) {
      throw keyConflict(`enqueueMany()[${i}]`, key, holder.handle, job);
    }
  });
  return prints;
}

/** A durable store's answer for a key it holds: undefined for a repeat (compared as JSON, as stored). */
export function storedKeyConflict(job: JobRecord, held: EnqueueResult['job']): ValkyrieError | undefined {
  const print = jobFingerprint(job.task.name, job.input);
  if (print === jobFingerprint(held.task, readPayload(held.payload).input)) return undefined;
  const what = held.task === job.task.name ? ' with another input' : '';
  return new ValkyrieError(
    'VK_IDEMPOTENCY_CONFLICT',
    `VK_IDEMPOTENCY_CONFLICT: idempotency key "${held.idempotencyKey}" belongs to stored job ${held.id}, of task "${held.task}"${what}; received task "${job.task.name}"`,
  );
}

function keyConflict(where: string, key: string, holder: JobHandle, job: JobRecord): ValkyrieError {
  const heldBy = holder instanceof JobRecord ? holder.task.name : undefined;
  const what = heldBy === job.task.name ? ' with another input' : '';
  return new ValkyrieError(
    'VK_IDEMPOTENCY_CONFLICT',
    `${where}: idempotency key "${key}" belongs to job ${holder.id}, of task "${heldBy}"${what}; received task "${job.task.name}"; nothing was enqueued`,
  );
}
