import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { PoolTask, TaskSettledListener } from '../executors/thread/task-record.js';
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

/** What `enqueue` returns: the job's id and its final outcome, once every attempt is over. */
export interface JobHandle<Output = unknown> {
  readonly id: string;
  /** Never rejects: a failure, a timeout, a lost worker or a cancellation is an outcome. */
  readonly result: Promise<JobOutcome<Output>>;
}

/** The engine's record of one job, from enqueue until its final outcome. */
export class JobRecord implements QueueEntry, TaskSettledListener {
  index = -1;
  key = 0;
  notBefore = 0;
  /** Attempts handed to the pool so far. */
  attempt = 0;
  settled = false;
  /** On a durable store: the store's job id, once enqueued (or adopted). */
  storeId: QueueJobId | undefined = undefined;
  /** On a durable store: the lease held while an attempt runs. */
  lease: Lease | undefined = undefined;
  /** Hears how the attempt handed to the pool ended; set by the dispatch, shared by its jobs. */
  attemptEnded: ((job: JobRecord, outcome: TaskOutcome) => void) | undefined = undefined;
  /** Hears the final outcome as it is delivered, before the handle's promise does: a workflow node. */
  onFinal: ((final: JobOutcome) => void) | undefined = undefined;
  private jobHandle: JobHandle | undefined = undefined;
  private final: JobOutcome | undefined = undefined;
  /** Made when first asked for: a workflow's nodes never are, and a promise per job costs. */
  private resultPromise: Promise<JobOutcome> | undefined = undefined;
  private resolveResult: ((outcome: JobOutcome) => void) | undefined = undefined;

  constructor(
    readonly seq: number,
    readonly task: EngineTask,
    readonly poolTask: PoolTask,
    /** Dropped once the outcome is delivered: a handle kept by the caller keeps no input alive. */
    public input: unknown,
    readonly options: ResolvedJobOptions,
  ) {}

  /** Made when first asked for: a workflow's nodes never are (two objects per node saved). */
  get handle(): JobHandle {
    this.jobHandle ??= new RecordHandle(this);
    return this.jobHandle;
  }

  get result(): Promise<JobOutcome> {
    if (this.resultPromise === undefined) {
      const final = this.final;
      this.resultPromise =
        final !== undefined
          ? Promise.resolve(final)
          : new Promise<JobOutcome>((resolve) => {
              this.resolveResult = resolve;
            });
    }
    return this.resultPromise;
  }

  taskSettled(outcome: TaskOutcome): void {
    this.attemptEnded?.(this, outcome);
  }

  /** The final outcome, or undefined when the job already has one (the first outcome wins). */
  conclude(outcome: TaskOutcome): JobOutcome | undefined {
    if (this.settled) return undefined;
    this.settled = true;
    return (
      outcome.kind === 'succeeded'
        ? { kind: 'succeeded', output: outcome.output, attempts: this.attempt }
        : { ...outcome, attempts: this.attempt }
    ) as JobOutcome;
  }

  /** Resolves the handle with what `conclude` returned. */
  deliver(final: JobOutcome): void {
    this.final = final;
    const onFinal = this.onFinal;
    this.onFinal = undefined;
    this.input = undefined;
    onFinal?.(final);
    this.resolveResult?.(final);
    this.resolveResult = undefined;
  }
}

/**
 * A JobHandle over its record: the result promise is the record's, made on first use. Not frozen
 * (freezing one per job costs): `result` has no setter, and `id` is typed read-only.
 */
class RecordHandle implements JobHandle {
  readonly id: string;
  readonly #record: JobRecord;

  constructor(record: JobRecord) {
    this.id = String(record.seq);
    this.#record = record;
  }

  get result(): Promise<JobOutcome> {
    return this.#record.result;
  }
}
