import { inspect } from 'node:util';
import { closeDeadline } from '../../core/close-deadline.js';
import { ValkyrieError } from '../../core/errors.js';
import type { InputArgs } from '../../core/input-args.js';
import { checkListener } from '../../core/listener-set.js';
import { type ResolvedThreadPoolOptions, resolvePoolOptions, type ThreadPoolOptions } from './config.js';
import { type PoolEventListener, PoolEventListeners, type PoolLevelEvent } from './events.js';
import type { TaskOutcome } from './outcome.js';
import { runSettings } from './run-options.js';
import { type PoolDispatcher, TaskDispatcher } from './task-dispatcher.js';
import { type PoolTask, type RunTaskOptions, TaskRecord, type TaskSettledListener } from './task-record.js';
import { taskRef } from './worker-entry.js';

export interface TaskModuleRef {
  /** An absolute path or a file: URL (`new URL('./task.js', import.meta.url)`). */
  readonly module: string | URL;
  /** The exported function; `default` when omitted. */
  readonly exportName?: string;
}

export interface CloseOptions {
  /** How long to let queued and running tasks finish before `destroy()`; no limit when omitted. */
  readonly deadlineMs?: number;
}

export interface PoolStats {
  readonly threads: number;
  readonly queued: number;
  readonly running: number;
}

/**
 * Runs task functions on a pool of worker threads.
 *
 * Lifecycle: construct (starts `minThreads` workers at once) → `task()` to name a module's function
 * → `run()` any number of times, concurrently → `close()` or `destroy()`.
 * `run()` never rejects for anything a task does: every end is a `TaskOutcome`. It rejects only
 * for misuse (bad options: VK_POOL_CONFIG; after close/destroy began: VK_POOL_CLOSED).
 * `close({deadlineMs})` stops intake, lets queued and running tasks finish, then destroys;
 * `destroy()` cancels everything at once and terminates the workers. Both are idempotent and
 * return the same promise on every call; `await using pool = new ThreadPool()` closes it.
 */
export class ThreadPool implements AsyncDisposable {
  readonly options: ResolvedThreadPoolOptions;
  private readonly listeners = new PoolEventListeners();
  private readonly dispatcher: PoolDispatcher;
  private readonly tasks = new Map<string, PoolTask>();
  /** The same tasks by typeId: `submit` checks it was given one of them in one array read. */
  private readonly taskByTypeId: PoolTask[] = [];
  private nextTaskId = 1;
  private unsettled = 0;
  /** A close() waiting for the drain: its deadline, which a later close() may bring forward. */
  private drainEnd: DrainEnd | undefined;
  private closing: Promise<void> | undefined;
  private destroying: Promise<void> | undefined;

  constructor(options: ThreadPoolOptions = {}) {
    this.options = resolvePoolOptions(options);
    this.dispatcher = new TaskDispatcher(this.options, this.listeners, (task, outcome) =>
      this.onSettled(task, outcome),
    );
  }

  /** Names an exported function of a task module. Memoised: the same ref gives the same task. */
  task<Input = unknown, Output = unknown>(ref: TaskModuleRef): PoolTask<Input, Output> {
    const { moduleUrl, exportName } = taskRef(ref);
    const key = `${exportName}\0${moduleUrl}`;
    let task = this.tasks.get(key);
    if (task === undefined) {
      task = Object.freeze({ typeId: this.tasks.size, moduleUrl, exportName });
      this.tasks.set(key, task);
      this.taskByTypeId.push(task);
    }
    return task as PoolTask<Input, Output>;
  }

  /**
   * The input may be left out when the task's input type accepts undefined (`void`, `T | undefined`,
   * `unknown`); a task that needs one keeps it required (InputArgs).
   */
  run<Input, Output>(
    task: PoolTask<Input, Output>,
    ...args: InputArgs<NoInfer<Input>, RunTaskOptions>
  ): Promise<TaskOutcome<Output>>;
  run(task: PoolTask, input?: unknown, options?: RunTaskOptions): Promise<TaskOutcome> {
    return new Promise<TaskOutcome>((resolve, reject) => {
      try {
        this.submit(task, input, options, { taskSettled: resolve });
      } catch (error) {
        reject(error);
      }
    });
  }

  /**
   * `run()` without a promise, for callers that hand the pool many tasks (the library engine): the
   * outcome goes to `listener` (see TaskSettledListener) — synchronously, before this returns, for a
   * signal that is already aborted. Throws where `run()` rejects, and then `listener` hears nothing.
   */
  submit<Input>(
    task: PoolTask<Input>,
    input: Input,
    options: RunTaskOptions | undefined,
    listener: TaskSettledListener,
  ): void {
    if (this.closing !== undefined || this.destroying !== undefined) {
      throw new ValkyrieError(
        'VK_POOL_CLOSED',
        'run(): the thread pool is closing; the task was not accepted',
      );
    }
    // A worker knows a task by its typeId: another pool's task, or a look-alike object, would run
    // whatever this pool's task of that id is, or fail to load "undefined".
    const typeId = (task as PoolTask | undefined)?.typeId;
    if (typeId === undefined || this.taskByTypeId[typeId] !== task) throw notATask(task);
    // The engine's usual task comes without options: nothing to check, and no settings object made.
    let timeoutMs = this.options.taskTimeoutMs;
    let attempt = 1;
    if (options !== undefined) {
      ({ timeoutMs, attempt } = runSettings(options, timeoutMs));
      if (options.signal?.aborted) {
        listener.taskSettled({ kind: 'cancelled', reason: abortReasonOf(options.signal) }, false);
        return;
      }
    }
    const record = new TaskRecord(
      this.nextTaskId++,
      task as PoolTask,
      input,
      attempt,
      timeoutMs,
      options,
      listener,
    );
    this.unsettled++;
    const signal = options?.signal;
    if (signal !== undefined) {
      const onAbort = () => this.dispatcher.cancel(record, abortReasonOf(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      record.removeAbortListener = () => signal.removeEventListener('abort', onAbort);
    }
    this.dispatcher.submit(record);
  }

  /** Subscribes to the pool's events; returns the unsubscribe function. */
  onEvent(listener: PoolEventListener): () => void {
    checkListener('VK_POOL_CONFIG', 'onEvent()', listener);
    return this.listeners.add(listener);
  }

  /**
   * Subscribes to `pool.scaled` and `worker.replaced` only; returns the unsubscribe function. Unlike
   * `onEvent`, it does not make the pool build an event for every task.
   */
  onPoolLevelEvent(listener: (event: PoolLevelEvent) => void): () => void {
    checkListener('VK_POOL_CONFIG', 'onPoolLevelEvent()', listener);
    return this.listeners.addPoolLevel(listener);
  }

  /**
   * Cancels the unsettled task that was submitted with `listener`, as an aborted signal would: a
   * waiting one ends at once, a running one has its `ctx.signal` aborted (then the grace, then the
   * worker is replaced). False when there is none. A scan of the pool's tasks: for rare cancels by a
   * submitter that passes no signal (the library engine).
   */
  cancelSubmitted(listener: TaskSettledListener, reason: string): boolean {
    const record = this.dispatcher.find(listener);
    if (record === undefined) return false;
    this.dispatcher.cancel(record, reason);
    return true;
  }

  /**
   * Cancels, as `cancelSubmitted` does, every task submitted with a listener `test` accepts that no
   * worker has begun yet (waiting in the pool, or lined up in a worker); tasks that have begun run
   * on. For an engine that closes: what it has not started goes back to its store. Returns the count.
   */
  cancelNotBegun(test: (listener: TaskSettledListener) => boolean, reason: string): number {
    return this.dispatcher.cancelWhere(test, reason, false);
  }

  /**
   * Cancels, as `cancelSubmitted` does, every unsettled task submitted with a listener `test`
   * accepts, begun or not: for an engine that is destroyed on a pool it does not own, in one scan
   * rather than a signal listener per task. Returns the count.
   */
  cancelAllSubmitted(test: (listener: TaskSettledListener) => boolean, reason: string): number {
    return this.dispatcher.cancelWhere(test, reason, true);
  }

  stats(): PoolStats {
    return this.dispatcher.stats();
  }

  /** Resolves once every running worker is ready (the pool starts `minThreads` at construction). */
  ready(): Promise<void> {
    return this.dispatcher.ready();
  }

  /**
   * Every call returns the same promise, which resolves once the pool is destroyed. A later call
   * whose deadline (counted from that call) falls before the one in force brings the end forward;
   * one that falls later, or none, changes nothing. Options are checked on every call.
   */
  close(options?: CloseOptions): Promise<void> {
    const deadlineMs = closeDeadline('VK_POOL_CONFIG', options);
    if (deadlineMs instanceof ValkyrieError) return Promise.reject(deadlineMs);
    if (this.closing !== undefined) {
      this.drainEnd?.shorten(deadlineMs);
      return this.closing;
    }
    this.closing = this.drain(deadlineMs).then(() => this.destroy());
    return this.closing;
  }

  destroy(): Promise<void> {
    this.destroying ??= this.dispatcher.destroy();
    return this.destroying;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private drain(deadlineMs: number): Promise<void> {
    if (this.unsettled === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const end = new DrainEnd(() => {
        this.drainEnd = undefined;
        resolve();
      });
      end.shorten(deadlineMs);
      this.drainEnd = end;
    });
  }

  private onSettled(_task: TaskRecord, _outcome: TaskOutcome): void {
    if (--this.unsettled === 0) this.drainEnd?.now();
  }
}

/** The end of a close()'s drain: when it drained (`now`), or at the earliest deadline given. */
class DrainEnd {
  private timer: NodeJS.Timeout | undefined;
  private endsAt = Number.POSITIVE_INFINITY;
  private ended = false;

  constructor(private readonly end: () => void) {}

  /** A deadline from now; ignored when the one in force comes sooner. */
  shorten(deadlineMs: number): void {
    const endsAt = Date.now() + deadlineMs;
    if (this.ended || !Number.isFinite(deadlineMs) || endsAt >= this.endsAt) return;
    this.endsAt = endsAt;
    clearTimeout(this.timer);
    // Unref'd: a pool that is closing holds the process only through its tasks.
    this.timer = setTimeout(() => this.now(), deadlineMs);
    this.timer.unref();
  }

  now(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.end();
  }
}

function abortReasonOf(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason.message;
  if (reason === undefined) return 'cancelled by the caller';
  // String() throws for an object without a usable toString (a null prototype, a throwing one):
  // here, in the signal's abort listener, that would be an uncaught exception in the caller's process.
  try {
    return String(reason);
  } catch {
    return inspect(reason, { depth: 1, breakLength: Number.POSITIVE_INFINITY }).slice(0, 500);
  }
}

function notATask(received: unknown): ValkyrieError {
  const shown = typeof received === 'string' ? `'${received}'` : typeof received;
  return new ValkyrieError(
    'VK_TASK_MODULE',
    `run(): expected a task made by this pool's task({ module, exportName }); received ${shown}`,
  );
}
