import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { PoolTask, TaskLogEntry, TaskSettledListener } from '../executors/thread/task-record.js';
import type { Lease, QueueJobId } from '../store/queue.js';
import type { QueueEntry } from './engine-queue.js';
import type { JobOutcome } from './events.js';
import type { ResolvedJobOptions } from './options.js';

/**
 * A task registered with an engine under a name. Made by `engine.task()`; the type parameters only
 * carry the caller's input and output types.
 */
export interface EngineTask<Input = unknown, Output = unknown> {
  readonly name: string;
  /** The module's file: URL. */
  readonly moduleUrl: string;
  readonly exportName: string;
  /** Never set; keeps Input and Output in the type. */
  readonly types?: { readonly input: Input; readonly output: Output };
}

/**
 * What `enqueue` returns: the job's id and its final outcome, once every attempt is over. `Output`
 * is the output as it arrives: the engine types it `Jsonified<TaskOutput>` (job data is JSON).
 */
export interface JobHandle<Output = unknown> {
  /** The engine's own id for the job, unique within this engine (events carry it as `jobId`). */
  readonly id: string;
  /**
   * On a durable store, the job's id in the store — what `engine.getStoredJob` takes, from any engine
   * on the store, after a restart too — once its enqueue has been written (always by the time
   * `result` resolves, unless the store refused it); undefined before that and in memory.
   */
  readonly storeId?: string | undefined;
  /** Never rejects: a failure, a timeout, a lost worker or a cancellation is an outcome. */
  readonly result: Promise<JobOutcome<Output>>;
}

type FinalListener = (final: JobOutcome) => void;
/** `recorded`: the write of the job's record, when it is still being written. */
export type ConcludedListener = (final: JobOutcome, recorded: Promise<unknown> | undefined) => void;

/**
 * What every job of one registered task shares: the engine's handle, the pool's, and who hears how
 * an attempt ended and what it reported (the engine's dispatch). One field of the record instead of
 * four.
 */
export interface JobTask {
  readonly task: EngineTask;
  readonly poolTask: PoolTask;
  /** `begun`: false when no worker began the attempt (TaskSettledListener). */
  attemptEnded(job: JobRecord, outcome: TaskOutcome, begun: boolean): void;
  progressReported(job: JobRecord, value: unknown): void;
  logReported(job: JobRecord, entry: TaskLogEntry): void;
}

/**
 * The outcome of most jobs: a task that returned nothing, on its first attempt. One frozen object for
 * all of them, as the pool shares its own (outcome.ts).
 */
const succeededAtFirstWithoutOutput: JobOutcome = Object.freeze({
  kind: 'succeeded',
  output: undefined,
  attempts: 1,
});

/**
 * The engine's record of one job, from enqueue until its final outcome; it is also the job's handle.
 *
 * Every unsettled job's record stays alive while it waits, and each young-generation GC copies the
 * ones made since the last: the cost of a queued job is its bytes (measured: GC was ~40% of the main
 * thread at 20,000 unsettled jobs). So the record is its own handle (no second object, no id string
 * made before one is asked for), and the result promise's resolve shares one field with the final
 * outcome.
 */
export class JobRecord implements QueueEntry, TaskSettledListener, JobHandle {
  index = -1;
  key = 0;
  /**
   * Undefined for a job without a delay. Never a number in every record: one delayed job would make
   * the field a double in all of them, each with its own 16-byte box (V8 keeps no unboxed doubles).
   */
  notBefore: number | undefined = undefined;
  /** Attempts handed to the pool so far. */
  attempt = 0;
  settled = false;
  /**
   * On a durable store: the store's job id once enqueued (or adopted), or the lease held while an
   * attempt runs (which carries the id). One field: on the in-memory store both stay unset.
   */
  private stored: QueueJobId | Lease | undefined = undefined;
  /**
   * Until the outcome is delivered: the result promise's resolve, once asked for; afterwards the
   * final outcome itself.
   */
  private delivery: FinalListener | JobOutcome | undefined = undefined;
  /** Made when first asked for: a workflow's nodes never are, and a promise per job costs. */
  private resultPromise: Promise<JobOutcome> | undefined = undefined;
  /** A workflow node's listener until it is told (see onConcluded). */
  private concludedListener: ConcludedListener | undefined = undefined;

  constructor(
    readonly seq: number,
    readonly jobTask: JobTask,
    /** Dropped once the outcome is delivered: a handle kept by the caller keeps no input alive. */
    public input: unknown,
    readonly options: ResolvedJobOptions,
  ) {}

  get task(): EngineTask {
    return this.jobTask.task;
  }

  get poolTask(): PoolTask {
    return this.jobTask.poolTask;
  }

  /** On a durable store: the store's job id, once enqueued (or adopted). */
  get storeId(): QueueJobId | undefined {
    const stored = this.stored;
    return typeof stored === 'object' ? stored.jobId : stored;
  }

  set storeId(id: QueueJobId) {
    if (this.lease?.jobId !== id) this.stored = id;
  }

  /** On a durable store: the lease held while an attempt runs; its job id is the record's `storeId`. */
  get lease(): Lease | undefined {
    const stored = this.stored;
    return typeof stored === 'object' ? stored : undefined;
  }

  set lease(lease: Lease | undefined) {
    this.stored = lease ?? this.storeId;
  }

  get id(): string {
    return String(this.seq);
  }

  get result(): Promise<JobOutcome> {
    if (this.resultPromise !== undefined) return this.resultPromise;
    const delivery = this.delivery;
    // Delivered already (a function would be the resolve of a promise made before).
    if (delivery !== undefined && typeof delivery !== 'function') {
      this.resultPromise = Promise.resolve(delivery);
      return this.resultPromise;
    }
    // The executor only stores `resolve`: the optimizer then makes neither it nor `reject` (measured:
    // 160 B per promise; a module-level executor, or one that may build a closure, 200–250 B).
    this.resultPromise = new Promise<JobOutcome>((resolve) => {
      this.delivery = resolve;
    });
    return this.resultPromise;
  }

  /**
   * A workflow node: hears the final outcome once, before the handle resolves. On a store that
   * writes in order, as soon as the record's write is requested, with its promise — the nodes it
   * starts are then stored in the same commit, or after (see JobDispatch.finish); otherwise on
   * delivery, once recorded.
   */
  onConcluded(listener: ConcludedListener): void {
    const delivery = this.delivery;
    if (delivery !== undefined && typeof delivery !== 'function') listener(delivery, undefined);
    else this.concludedListener = listener;
  }

  /** Tells the onConcluded listener, if it was not told yet. */
  tellConcluded(final: JobOutcome, recorded: Promise<unknown> | undefined): void {
    const listener = this.concludedListener;
    if (listener === undefined) return;
    this.concludedListener = undefined;
    listener(final, recorded);
  }

  taskSettled(outcome: TaskOutcome, begun: boolean): void {
    this.jobTask.attemptEnded(this, outcome, begun);
  }

  taskProgress(value: unknown): void {
    this.jobTask.progressReported(this, value);
  }

  taskLog(entry: TaskLogEntry): void {
    this.jobTask.logReported(this, entry);
  }

  /** The final outcome, or undefined when the job already has one (the first outcome wins). */
  conclude(outcome: TaskOutcome): JobOutcome | undefined {
    if (this.settled) return undefined;
    this.settled = true;
    if (outcome.kind !== 'succeeded') return { ...outcome, attempts: this.attempt } as JobOutcome;
    if (outcome.output === undefined && this.attempt === 1) return succeededAtFirstWithoutOutput;
    return { kind: 'succeeded', output: outcome.output, attempts: this.attempt };
  }

  /** Resolves the handle with what `conclude` returned. */
  deliver(final: JobOutcome): void {
    const delivery = this.delivery;
    this.delivery = final;
    this.input = undefined;
    this.tellConcluded(final, undefined);
    if (typeof delivery === 'function') delivery(final);
  }
}
