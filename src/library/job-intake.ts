import { ValkyrieError } from '../core/errors.js';
import type { Lease } from '../store/queue.js';
import type { EnqueueRequest } from './enqueue-request.js';
import type { JobOutcome } from './events.js';
import type { IdempotencyKeys } from './idempotency-keys.js';
import type { JobDispatch } from './job-dispatch.js';
import { type EngineTask, type JobHandle, JobRecord } from './job-record.js';
import type { JobSignals } from './job-signals.js';
import { checkBatchKeys, claimKey } from './key-conflicts.js';
import { checkOptionNames } from './option-keys.js';
import { checkOptionsObject } from './option-values.js';
import {
  type JobOptions,
  type ResolvedJobOptions,
  type ResolvedRetryPolicy,
  resolveJobOptions,
  retryDefaults,
} from './options.js';
import { inputForm, RefusedInput } from './refused-input.js';
import { readPayload } from './stored-job.js';
import type { TaskRegistry } from './task-registry.js';

export interface JobIntakeParts {
  readonly tasks: TaskRegistry;
  readonly dispatch: JobDispatch;
  readonly idempotent: IdempotencyKeys;
  /** `options.signal`: cancels a job when its caller's signal aborts. */
  readonly signals: JobSignals;
  /** The engine's retry policy, for jobs enqueued without one. */
  readonly retry: ResolvedRetryPolicy;
}

/**
 * How jobs enter an engine's dispatch: a caller's requests (`enqueue`, `enqueueMany`, a workflow's
 * nodes), each checked before any of a call is queued, and the stored jobs of other engines that
 * this one claims (`adopt`). Numbers the jobs, answers a known idempotency key with its first job's
 * handle, and links callers' signals. The engine checks that it is open before each call.
 *
 * A caller's input becomes its JSON form here, on every store, copied as it is at the call
 * (json-value.ts jsonCopy): the task, an idempotency key's comparison and a durable store all see
 * the same value, whatever the caller does to its object afterwards. A job whose input JSON
 * cannot hold is not queued: it ends `failed`/`input` a microtask after its call, never run.
 */
export class JobIntake {
  private readonly tasks: TaskRegistry;
  private readonly dispatch: JobDispatch;
  private readonly idempotent: IdempotencyKeys;
  private readonly signals: JobSignals;
  private readonly retry: ResolvedRetryPolicy;
  /** The options of a job enqueued without any: looked up once, not in a WeakMap per job. */
  private readonly defaultJobOptions: ResolvedJobOptions;
  private nextSeq = 1;

  constructor(parts: JobIntakeParts) {
    this.tasks = parts.tasks;
    this.dispatch = parts.dispatch;
    this.idempotent = parts.idempotent;
    this.signals = parts.signals;
    this.retry = parts.retry;
    this.defaultJobOptions = resolveJobOptions('', undefined, parts.retry);
  }

  /** `enqueue`: throws VK_ENGINE_CONFIG or VK_IDEMPOTENCY_CONFLICT with nothing queued. */
  one(task: EngineTask | string, input: unknown, options: JobOptions | undefined): JobHandle {
    const job = this.prepare('enqueue()', task, input, options);
    const held = this.admitOrFind(job, 'enqueue()');
    this.dispatch.endSubmission();
    this.linkSignal(job, held, options?.signal);
    return held ?? job;
  }

  /** `enqueueMany`: all or nothing, every request is checked before any is queued. */
  many(requests: readonly EnqueueRequest[]): JobHandle[] {
    if (!Array.isArray(requests)) {
      throw new ValkyrieError(
        'VK_ENGINE_CONFIG',
        `enqueueMany(): expected an array; received ${typeof requests}`,
      );
    }
    // A loop, not `map`: a caller that keeps a window of jobs full calls this with one request at a
    // time, and map's closure and generic array creation cost more than the job itself.
    // Sized up front: a push onto an empty array allocates room for 17.
    const jobs = new Array<JobHandle>(requests.length);
    for (let i = 0; i < requests.length; i++) {
      const request = requests[i] as EnqueueRequest;
      checkOptionsObject(`enqueueMany()[${i}]`, request, 'an object { task, input, options? }');
      checkOptionNames('enqueueMany()', request, 'request', i);
      jobs[i] = this.prepare('enqueueMany()', request.task, request.input, request.options, i);
    }
    const prints = checkBatchKeys(this.idempotent, jobs as JobRecord[]);
    // Signals aborted before the call are linked last: such a request lets go of a keyed job only
    // after the call's other requests for it hold it, as it would in an enqueue after theirs.
    let aborted: [JobRecord, JobHandle | undefined, AbortSignal][] | undefined;
    // In place: a job is its own handle, unless its idempotency key names an earlier one. The jobs
    // share one clock reading (JobDispatch.admit).
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i] as JobRecord;
      const held = this.admitOrFind(job, 'enqueueMany()', prints?.[i]);
      jobs[i] = held ?? job;
      const signal = requests[i]?.options?.signal;
      if (signal?.aborted) {
        aborted ??= [];
        aborted.push([job, held, signal]);
      } else {
        this.linkSignal(job, held, signal);
      }
    }
    this.dispatch.endSubmission();
    for (const [job, held, signal] of aborted ?? []) this.linkSignal(job, held, signal);
    return jobs;
  }

  /** A workflow node's job; `ended` hears its final outcome (WorkflowHost.enqueue). */
  node(
    task: EngineTask | string,
    input: unknown,
    options: JobOptions | undefined,
    ended: (outcome: JobOutcome, recorded: Promise<unknown> | undefined) => void,
  ): void {
    const job = this.prepare('enqueue()', task, input, options);
    // Told directly, not through the handle's promise: no promise per node, no hop per stage.
    job.onConcluded(ended);
    const held = this.admitOrFind(job, 'enqueue()');
    // A node that repeats a key holds the job to the end: it has no signal.
    if (held !== undefined) this.signals.hold(held, undefined, true);
    held?.result.then((final) => ended(final, undefined));
    this.dispatch.endSubmission();
  }

  /**
   * An entry for a stored job this engine did not enqueue; its options are read back from the
   * payload. Undefined for a task this engine has not registered.
   */
  adopt(lease: Lease): JobRecord | undefined {
    const where = `stored job ${lease.jobId}`;
    let registered: ReturnType<TaskRegistry['resolve']>;
    try {
      registered = this.tasks.resolve(where, lease.task);
    } catch {
      return undefined;
    }
    const { input, options } = readPayload(lease.payload);
    // Options left out of a payload were the library's defaults where it was enqueued, not this
    // engine's (storedPayload).
    let resolved: ResolvedJobOptions;
    try {
      resolved = resolveJobOptions(`${where} options`, options, retryDefaults);
    } catch {
      resolved = resolveJobOptions(where, undefined, retryDefaults);
    }
    const job = new JobRecord(this.nextSeq++, registered, input, resolved);
    this.dispatch.adopt(job);
    return job;
  }

  /** Checks one request; throws VK_ENGINE_CONFIG naming `where` before anything is enqueued. */
  private prepare(
    where: string,
    task: EngineTask | string,
    input: unknown,
    options: JobOptions | undefined,
    index?: number,
  ): JobRecord {
    // The request's place is spelled out only for an error or for options to check: building it,
    // or a closure that would, per job costs real time.
    const registered = this.tasks.find(task) ?? this.tasks.resolve(placeOf(where, index), task);
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new ValkyrieError(
        'VK_ENGINE_CONFIG',
        `${placeOf(where, index)} options.signal must be an AbortSignal; received ${typeof signal}`,
      );
    }
    const resolved =
      options === undefined
        ? this.defaultJobOptions
        : resolveJobOptions(`${placeOf(where, index)} options`, options, this.retry);
    return new JobRecord(this.nextSeq++, registered, inputForm(input), resolved);
  }

  /**
   * Links a call's signal to the job it got: `job` itself, or `held`, the first job of its repeated
   * idempotency key. Every call of a keyed job is one of its holders, with or without a signal
   * (JobSignals.hold); a job without a key (or refused for its input, which holds none) is its
   * caller's alone.
   */
  private linkSignal(job: JobRecord, held: JobHandle | undefined, signal: AbortSignal | undefined): void {
    if (job.options.idempotencyKey !== undefined && !(job.input instanceof RefusedInput)) {
      this.signals.hold(held ?? job, signal, held !== undefined);
    } else if (signal !== undefined) {
      this.signals.link(job, signal);
    }
  }

  /**
   * Queues a checked job, or returns the first job's handle when its idempotency key is known;
   * undefined for a job it queued (or refused).
   * Throws VK_IDEMPOTENCY_CONFLICT, queueing nothing, when the key belongs to a job of another task
   * or input; `fingerprint` is the job's, when already made.
   */
  private admitOrFind(job: JobRecord, where: string, fingerprint?: string): JobHandle | undefined {
    // Before its key is claimed: a job that never enters the queue holds no key, on any store.
    if (job.input instanceof RefusedInput) {
      this.dispatch.refuse(job, job.input.outcome);
      return undefined;
    }
    if (job.options.idempotencyKey !== undefined) {
      const held = claimKey(this.idempotent, where, job, fingerprint);
      if (held !== undefined) return held;
    }
    this.dispatch.admit(job);
    return undefined;
  }
}

/** `enqueueMany()[3]`, or `enqueue()`: where a request was, for a message about it. */
function placeOf(where: string, index: number | undefined): string {
  return index === undefined ? where : `${where}[${index}]`;
}
