import { inspect } from 'node:util';
import { closeDeadline } from '../core/close-deadline.js';
import { ValkyrieError } from '../core/errors.js';
import type { InputArgs } from '../core/input-args.js';
import { checkListener } from '../core/listener-set.js';
import { type CloseOptions, type TaskModuleRef, ThreadPool } from '../executors/thread/thread-pool.js';
import { asQueueJobId } from '../store/queue.js';
import type { EngineQueueHooks } from './engine-queue.js';
import {
  type OpenedEngineStore,
  openEngineStore,
  openEngineStoreNow,
  storeEngineQueue,
} from './engine-store.js';
import type {
  EnqueuedHandles,
  EnqueueRequest,
  EnqueueRequests,
  NamedRequest,
  TaskRef,
} from './enqueue-request.js';
import { type EngineEventListener, EngineEventListeners, storeStallEvent } from './events.js';
import { IdempotencyKeys } from './idempotency-keys.js';
import { JobDispatch } from './job-dispatch.js';
import { JobIntake } from './job-intake.js';
import { type EngineTask, type JobHandle, JobRecord } from './job-record.js';
import { JobSignals } from './job-signals.js';
import type { Jsonified } from './jsonified.js';
import {
  type EngineOptions,
  type JobOptions,
  type ResolvedEngineOptions,
  resolveEngineOptions,
  resolveJobOptions,
} from './options.js';
import type { StoreEngineQueue } from './store-engine-queue.js';
import { type StoredJob, storedJobView } from './stored-job.js';
import { TaskRegistry } from './task-registry.js';
import {
  runWorkflow,
  type WorkflowDefinition,
  type WorkflowHost,
  type WorkflowOutput,
  type WorkflowResult,
} from './workflow.js';

export interface EngineStats {
  /** Waiting in the engine's queue, delayed ones and those waiting for a retry included. */
  readonly queued: number;
  /** Handed to the thread pool and not finished. */
  readonly inFlight: number;
  /** Enqueued and without a final outcome. */
  readonly unsettled: number;
}

const closedOnStore = 'the engine closed before it ran the job here; the job stays queued in the store';

/** Opens an engine on its store and waits for its thread pool's first workers. */
export async function openEngine(options: EngineOptions = {}): Promise<Engine> {
  const resolved = resolveEngineOptions(options);
  const store = await openEngineStore(resolved.store, resolved);
  let engine: Engine;
  try {
    engine = new Engine(options, store);
  } catch (error) {
    await store?.close();
    throw error;
  }
  try {
    await engine.ready();
  } catch (error) {
    await engine.destroy();
    throw error;
  }
  return engine;
}

/**
 * Runs jobs of JavaScript tasks on a thread pool: a priority queue with aging and delays in front
 * of the pool, retries, idempotency keys, and workflows (DAGs) of jobs.
 *
 * Lifecycle: `openEngine()` → `task()` to register modules → `enqueue` / `enqueueMany` /
 * `runWorkflow`, any number at once → `close({ deadlineMs })` (stops intake, lets running jobs finish
 * — in memory queued and delayed ones too; a durable store keeps those for the next engine — then
 * destroys) or `destroy()` (every unfinished job ends `cancelled`).
 * Both are idempotent and return the same promise; `await using engine = await openEngine()`
 * closes. Registering a task or enqueueing after either began throws VK_ENGINE_CLOSED. A job's
 * `result` never rejects.
 */
export class Engine implements AsyncDisposable {
  readonly options: ResolvedEngineOptions;
  private readonly pool: ThreadPool;
  private readonly ownsPool: boolean;
  private readonly listeners = new EngineEventListeners();
  private readonly tasks: TaskRegistry;
  private readonly dispatch: JobDispatch;
  private readonly intake: JobIntake;
  /** The durable store, if any; the queue closes it after the last job settled. */
  private readonly store: OpenedEngineStore | undefined;
  private unsubscribePool: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private destroying: Promise<void> | undefined;
  /** When the close() deadline in force runs out (the engine's clock; Infinity without one), and its length. */
  private closeEndsAt = Number.POSITIVE_INFINITY;
  private closeDeadlineMs = Number.POSITIVE_INFINITY;
  /** The reason the handles of jobs still waiting at the end resolve `cancelled` with. */
  private leftReason = 'the engine was destroyed';

  /**
   * `store` is the durable store `openEngine` opened for `options.store`; without it, a SQLite store
   * is opened here (a Postgres one cannot be: it opens asynchronously).
   */
  constructor(options: EngineOptions = {}, store?: OpenedEngineStore) {
    this.options = resolveEngineOptions(options);
    const opened = store ?? openEngineStoreNow(this.options.store, this.options);
    this.store = opened;
    opened?.stalls?.add((event) => this.listeners.emit(storeStallEvent(event)));
    this.ownsPool = !(options.pool instanceof ThreadPool);
    // A producer's pool starts no worker (it is never handed a job); it only names task modules.
    const producerPool = { minThreads: 0, maxThreads: 1 };
    this.pool =
      options.pool instanceof ThreadPool
        ? options.pool
        : new ThreadPool(this.options.runJobs ? (options.pool ?? {}) : producerPool);
    const pool = this.pool.options;
    this.dispatch = new JobDispatch({
      queue: opened === undefined ? undefined : (hooks) => this.storeQueue(opened, hooks),
      pool: this.pool,
      listeners: this.listeners,
      clock: this.options.clock,
      agingIntervalMs: this.options.agingIntervalMs,
      // Enough to fill every slot and every worker's line; the rest waits in the engine, in priority order.
      maxInFlight: this.options.maxInFlight ?? 2 * pool.maxThreads * pool.concurrentTasksPerWorker,
      // A caller's pool closed under the engine: what runs on it finishes, nothing more is taken.
      poolClosed: () => void this.close(),
    });
    this.tasks = new TaskRegistry(this.pool, this.dispatch, !this.options.runJobs);
    this.intake = new JobIntake({
      tasks: this.tasks,
      dispatch: this.dispatch,
      idempotent: new IdempotencyKeys(this.options.clock, this.options.store.kind !== 'memory'),
      // One listener per caller's signal, whatever the number of its jobs.
      signals: new JobSignals((job, reason) => {
        if (this.ownJob(job)) this.dispatch.cancel(job, reason, true).catch(() => {});
      }),
      retry: this.options.retry,
    });
  }

  ready(): Promise<void> {
    return this.pool.ready();
  }

  /**
   * Registers a task module's function under a name. Registering the same name and function again
   * returns the same task; the same name for another function throws VK_ENGINE_CONFIG. Throws
   * VK_ENGINE_CLOSED once close() or destroy() was called, as enqueue() does.
   */
  task<Input = unknown, Output = unknown>(name: string, ref: TaskModuleRef): EngineTask<Input, Output> {
    // A task registered now could never run: said at once, as enqueue() says it, not accepted in silence.
    this.checkOpen('task()', 'task');
    const task = this.tasks.register(name, ref) as EngineTask<Input, Output>;
    // A durable store may already hold jobs of this task, enqueued earlier or elsewhere.
    this.dispatch.poke();
    return task;
  }

  /**
   * Adds one job. Throws (nothing enqueued) on an unknown task or bad options, or when closing.
   * The input may be left out when the task's input type accepts undefined (`void`,
   * `T | undefined`, `unknown`); a task that needs one keeps it required (InputArgs). The handle's
   * output is the task's output type in its JSON form (Jsonified: a Date is a string).
   */
  enqueue<Input, Output>(
    task: EngineTask<Input, Output> | string,
    ...args: InputArgs<NoInfer<Input>, JobOptions>
  ): JobHandle<Jsonified<Output>>;
  enqueue(task: EngineTask | string, input?: unknown, options?: JobOptions): JobHandle {
    this.checkOpen('enqueue()');
    return this.intake.one(task, input, options);
  }

  /**
   * Adds many jobs in one call, all or nothing: every request is checked before any is enqueued.
   * Typed per request by its task handle; tasks given by name (a producer's) carry no types, and
   * the caller may name their output: `enqueueMany<Out>([{ task: 'resize', input }])`.
   */
  enqueueMany<const Tasks extends readonly TaskRef[]>(
    requests: EnqueueRequests<Tasks>,
  ): EnqueuedHandles<Tasks>;
  enqueueMany<Output = unknown>(requests: readonly NamedRequest[]): JobHandle<Jsonified<Output>>[];
  enqueueMany(requests: readonly EnqueueRequest[]): JobHandle[] {
    this.checkOpen('enqueueMany()');
    return this.intake.many(requests);
  }

  /**
   * Runs a workflow: each node is a job; see workflow.ts for the input each node receives. Rejects
   * with VK_WORKFLOW_GRAPH before any node runs when the graph is invalid, and with VK_ENGINE_CLOSED
   * once close() or destroy() was called; never throws from the call. Typed node by node by its
   * task handle: a task of `NodeInput<X>` takes an `X` as its node's `input` (WorkflowDefinition).
   */
  runWorkflow<const Tasks extends readonly TaskRef[]>(
    definition: WorkflowDefinition<Tasks>,
  ): Promise<WorkflowResult<WorkflowOutput<Tasks>>>;
  runWorkflow(definition: WorkflowDefinition): Promise<WorkflowResult> {
    // Rejects, as for a bad graph: a caller that chains .catch() on the call must hear of it.
    try {
      this.checkOpen('runWorkflow()', 'workflow');
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.options.runJobs) {
      return Promise.reject(
        new ValkyrieError(
          'VK_ENGINE_CONFIG',
          'runWorkflow(): an engine opened with runJobs: false cannot run workflows (their state lives in the process that runs them); enqueue jobs instead',
        ),
      );
    }
    return runWorkflow(definition, this.workflowHost);
  }

  /** One per engine: it keeps the plans of the definitions this engine ran (see workflow.ts). */
  private readonly workflowHost: WorkflowHost = {
    plans: new WeakMap(),
    check: (where, task, options) => {
      if (this.tasks.find(task) === undefined) this.tasks.resolve(where(), task);
      if (options !== undefined) resolveJobOptions(`${where()} options`, options, this.options.retry);
    },
    enqueue: (task, input, options, ended) => {
      this.checkOpen('enqueue()');
      this.intake.node(task, input, options, ended);
    },
  };

  /**
   * A job as the durable store holds it, by its store id (`JobHandle.storeId`): any job on the store,
   * enqueued by this engine, another one, or before a restart; undefined when the store has no such
   * job. Rejects with VK_ENGINE_CONFIG on the in-memory store, which keeps no jobs, or for a storeId
   * that is not a string, and with VK_ENGINE_CLOSED once the engine is closing.
   */
  async getStoredJob(storeId: string): Promise<StoredJob | undefined> {
    this.checkOpen('getStoredJob()');
    if (this.store === undefined) {
      throw new ValkyrieError(
        'VK_ENGINE_CONFIG',
        'getStoredJob(): the in-memory store keeps no jobs; open the engine on a SQLite file or a Postgres URL',
      );
    }
    // The stores' getJob answers undefined for a string of the wrong form, a job it cannot hold; a
    // non-string is a caller's mistake (a handle passed for its storeId), which undefined would hide.
    if (typeof storeId !== 'string') {
      throw new ValkyrieError(
        'VK_ENGINE_CONFIG',
        `getStoredJob(): "storeId" must be a string (a JobHandle's storeId); received ${inspect(storeId, { depth: 0 })}`,
      );
    }
    const job = await this.store.queue.getJob(asQueueJobId(storeId));
    return job === undefined ? undefined : storedJobView(job);
  }

  /**
   * Cancels one job of this engine (BullMQ's `job.remove()`): a queued or delayed job ends at once,
   * a running one has its task's `ctx.signal` aborted; either way its handle resolves `cancelled`
   * (`reason`), whatever the task then returns, and is not retried. On a durable store the
   * cancellation is recorded first (`getStoredJob` shows it `failed` with a `cancelled` outcome).
   * Resolves true when this call ended the job, false when it had ended already (or, on a durable
   * store, another engine had finished it). Also while the engine is closing.
   */
  cancel(job: JobHandle, reason = 'cancelled by the caller'): Promise<boolean> {
    if (!this.ownJob(job) || typeof reason !== 'string') {
      const message = this.ownJob(job)
        ? `cancel(): "reason" must be a string; received ${typeof reason}`
        : 'cancel(): expected a job handle this engine returned';
      return Promise.reject(new ValkyrieError('VK_ENGINE_CONFIG', message));
    }
    return this.dispatch.cancel(job, reason);
  }

  /**
   * Cancels a job of the durable store by its store id (`JobHandle.storeId`), whoever enqueued it
   * (graphile's `removeJob`, BullMQ's `queue.remove(id)`): queued or delayed, it never runs; running
   * in this engine, as `cancel`; running in another process, the store records it cancelled at once
   * and that engine stops the attempt when it next renews its lease (within a third of its
   * `leaseTtlMs`) — its handle then resolves `cancelled`. False when the job had finished or the store
   * has no such job. VK_ENGINE_CONFIG on the in-memory store.
   */
  cancelStored(storeId: string, reason = 'cancelled by the caller'): Promise<boolean> {
    if (this.store === undefined) {
      return Promise.reject(
        new ValkyrieError(
          'VK_ENGINE_CONFIG',
          'cancelStored(): the in-memory store keeps no jobs; cancel a job by its handle (engine.cancel)',
        ),
      );
    }
    if (typeof storeId !== 'string' || typeof reason !== 'string') {
      return Promise.reject(
        new ValkyrieError(
          'VK_ENGINE_CONFIG',
          `cancelStored(): expected a store id and a reason, strings; received ${typeof storeId} and ${typeof reason}`,
        ),
      );
    }
    return this.dispatch.cancelStored(asQueueJobId(storeId), reason);
  }

  /** Subscribes to the engine's events; returns the unsubscribe function. */
  onEvent(listener: EngineEventListener): () => void {
    checkListener('VK_ENGINE_CONFIG', 'onEvent()', listener);
    const remove = this.listeners.add(listener);
    // Only the pool's own events (scaled, worker replaced): the engine tells job events itself.
    this.unsubscribePool ??= this.pool.onPoolLevelEvent((event) => this.listeners.emit(event));
    return () => {
      remove();
      if (!this.listeners.active) {
        this.unsubscribePool?.();
        this.unsubscribePool = undefined;
      }
    };
  }

  private readonly ownJob = (job: unknown): job is JobRecord =>
    job instanceof JobRecord && job.jobTask.attemptEnded === this.dispatch.attemptEnded;

  stats(): EngineStats {
    return this.dispatch.stats();
  }

  /**
   * Every call returns the same promise, which resolves once the engine is closed. A later call whose
   * deadline (counted from that call) falls before the one in force brings the end forward; one
   * that falls later, or none, changes nothing. Options are checked on every call.
   */
  close(options?: CloseOptions): Promise<void> {
    const deadlineMs = closeDeadline('VK_ENGINE_CONFIG', options);
    if (deadlineMs instanceof ValkyrieError) return Promise.reject(deadlineMs);
    const endsAt = this.options.clock.now() + deadlineMs;
    if (this.closing !== undefined) {
      if (endsAt < this.closeEndsAt) this.waitToClose(deadlineMs, endsAt);
      return this.closing;
    }
    this.dispatch.closeIntake();
    // In memory a waiting job would be lost, so close() lets it run; a durable store keeps it for
    // the next engine, so only attempts that began are waited for: the rest go back to it now.
    if (this.store !== undefined) this.pool.cancelNotBegun(this.ownJob, closedOnStore);
    this.closing = this.waitToClose(deadlineMs, endsAt).then(() => {
      this.leftReason =
        this.store === undefined
          ? `the engine's close() deadline of ${this.closeDeadlineMs} ms passed before the job ran; the in-memory store keeps no jobs`
          : closedOnStore;
      return this.destroy();
    });
    return this.closing;
  }

  /**
   * Until the jobs close() waits for have ended, or `deadlineMs`. A later, shorter wait resolves the
   * earlier ones with it (DeadlineWaiters), so that the first close() goes on to destroy() then.
   */
  private waitToClose(deadlineMs: number, endsAt: number): Promise<void> {
    this.closeEndsAt = endsAt;
    this.closeDeadlineMs = deadlineMs;
    return this.store === undefined
      ? this.dispatch.whenDrained(deadlineMs)
      : this.dispatch.whenIdle(deadlineMs);
  }

  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async teardown(): Promise<void> {
    this.dispatch.stop(this.leftReason);
    // Running jobs end `cancelled` through the pool; destroying stops them from being retried. An
    // owned pool is destroyed with the engine; a caller's is not, so only the engine's tasks end.
    if (this.ownsPool) await this.pool.destroy();
    else this.pool.cancelAllSubmitted(this.ownJob, 'the engine was destroyed');
    await this.dispatch.whenDrained(Number.POSITIVE_INFINITY);
    await this.dispatch.closeQueue();
    this.unsubscribePool?.();
  }

  private storeQueue(store: OpenedEngineStore, hooks: EngineQueueHooks): StoreEngineQueue {
    return storeEngineQueue(store, {
      hooks,
      adopt: (lease) => this.intake.adopt(lease),
      // A producer claims nothing: its jobs are watched in the store until another engine ran them.
      tasks: this.options.runJobs ? () => this.tasks.names() : () => [],
      runsJobs: this.options.runJobs,
    });
  }

  private checkOpen(where: string, what: 'job' | 'workflow' | 'task' = 'job'): void {
    if (this.closing === undefined && this.destroying === undefined) return;
    throw new ValkyrieError(
      'VK_ENGINE_CLOSED',
      `${where}: the engine is closing; the ${what} was not accepted`,
    );
  }
}
