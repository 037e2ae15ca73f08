import type { TaskOutcome } from './outcome.js';
import type { LogLevel } from './protocol.js';

/**
 * A task type the pool knows: a module URL and the name of its exported function. Made by
 * `ThreadPool.task()`; the type parameters only carry the caller's input and output types.
 */
export interface PoolTask<Input = unknown, Output = unknown> {
  readonly typeId: number;
  readonly moduleUrl: string;
  readonly exportName: string;
  /** Never set; keeps Input and Output in the type. */
  readonly types?: (input: Input) => Output;
}

export interface TaskLogEntry {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: unknown;
}

export interface RunTaskOptions {
  /** Overrides the pool's `taskTimeoutMs` for this task; counted from when it starts in its worker. */
  readonly timeoutMs?: number;
  /** Cancels the task: removed from the queue, or its `ctx.signal` aborted if it is running. */
  readonly signal?: AbortSignal;
  /** Passed to the task as `ctx.attempt`; 1 when omitted. */
  readonly attempt?: number;
  /**
   * Runs the task alone on a worker: none of the pool's other tasks shares that thread while it runs
   * (it waits for a worker to empty, or for a new one). For a task that was lost with a worker it
   * shared (`worker_lost` with `sharedWith` > 0): alone, it can only take itself down.
   */
  readonly isolated?: boolean;
  readonly onProgress?: (value: unknown) => void;
  readonly onLog?: (entry: TaskLogEntry) => void;
}

/**
 * Hears a task's outcome: once, synchronously, while the pool settles it — keep it short and do not
 * call back into the pool from it. `ThreadPool.run()` resolves its promise from one.
 */
export interface TaskSettledListener {
  /**
   * `begun`: false when no worker began the task (cancelled waiting in the pool, withdrawn from a
   * worker's line, or left unstarted by a pool destroyed or a lost worker), so nothing of it ran.
   */
  taskSettled(outcome: TaskOutcome, begun: boolean): void;
  /**
   * Hears the task's progress reports, as `RunTaskOptions.onProgress` does (both are called): a
   * listener that is already there per task needs no closure and no options object per task.
   */
  taskProgress?(value: unknown): void;
  /** Hears the task's `ctx.logger` lines, as `RunTaskOptions.onLog` does (both are called). */
  taskLog?(entry: TaskLogEntry): void;
}

/** Why the pool aborted a running task's signal. */
export type AbortCause = 'timeout' | 'cancel';

/** Why and how a running task's signal was aborted by the pool. */
export interface TaskAbort {
  readonly cause: AbortCause;
  readonly message: string;
}

/**
 * The pool's record of one submitted task, from `run()` until its outcome. One per task in flight:
 * fields for rare paths (an abort, a deadline) stay unset (no number box for a deadline that
 * never comes), since every byte of it is allocated and copied by the young-generation GC per task.
 */
export class TaskRecord {
  /** The worker it was dispatched to. */
  workerId = -1;
  /** Dispatched behind a worker's full slots and not started yet: safe to dispatch again. */
  awaitingStart = false;
  /** Its place among the slot tasks sent to its worker, -1 for none (start-gate.ts). */
  slotSeq = -1;
  settled = false;
  /** When the pool acts on it next (timeout, then the end of the abort grace); undefined for never. */
  deadline: number | undefined = undefined;
  /** Set once the pool aborted its signal (a timeout or a cancellation). */
  aborting: TaskAbort | undefined = undefined;
  removeAbortListener: (() => void) | undefined = undefined;
  /** Per attempt, from its start in a worker; undefined for none (an Infinity would need a box). */
  readonly timeoutMs: number | undefined;

  constructor(
    readonly id: number,
    readonly task: PoolTask,
    readonly input: unknown,
    readonly attempt: number,
    timeoutMs: number,
    readonly options: RunTaskOptions | undefined,
    private readonly listener: TaskSettledListener,
  ) {
    this.timeoutMs = timeoutMs === Number.POSITIVE_INFINITY ? undefined : timeoutMs;
  }

  /** A progress report of the running task. */
  progress(value: unknown): void {
    this.options?.onProgress?.(value);
    this.listener.taskProgress?.(value);
  }

  /** A `ctx.logger` line of the running task. */
  log(entry: TaskLogEntry): void {
    this.options?.onLog?.(entry);
    this.listener.taskLog?.(entry);
  }

  /** Whether `listener` is the one this task was submitted with (ThreadPool.cancelSubmitted). */
  isFor(listener: TaskSettledListener): boolean {
    return this.listener === listener;
  }

  /** Whether `test` accepts the listener this task was submitted with (ThreadPool.cancelNotBegun). */
  listenerIs(test: (listener: TaskSettledListener) => boolean): boolean {
    return test(this.listener);
  }

  /**
   * Idempotent: the first outcome wins. Returns false when the task had already settled. `begun`: by
   * default, whether it was handed to a worker that has begun it (see TaskSettledListener).
   */
  settle(outcome: TaskOutcome, begun = this.workerId >= 0 && !this.awaitingStart): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.removeAbortListener?.();
    this.listener.taskSettled(outcome, begun);
    return true;
  }
}
