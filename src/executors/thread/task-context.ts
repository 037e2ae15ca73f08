import { type LogLevel, recordKind } from './protocol.js';

/** What a task function receives besides its input. */
export interface TaskContext {
  /** Aborted when the task times out, is cancelled, or the pool is closing past its deadline. */
  readonly signal: AbortSignal;
  /** 1 on the first run; the caller's retry policy passes higher numbers. */
  readonly attempt: number;
  readonly taskId: number;
  /** Lines sent to the main thread (`onLog`, the `task.log` event); never to stdout. */
  readonly logger: TaskLogger;
  /** Sends a value to the main thread (`onProgress`, the `task.progress` event). */
  progress(value: unknown): void;
}

export interface TaskLogger {
  debug(message: string, fields?: unknown): void;
  info(message: string, fields?: unknown): void;
  warn(message: string, fields?: unknown): void;
  error(message: string, fields?: unknown): void;
}

/** A task module's export: `export default async function (input, ctx) { … }`. */
export type TaskFunction<Input = unknown, Output = unknown> = (
  input: Input,
  ctx: TaskContext,
) => Output | Promise<Output>;

/** Where a worker's task records go; posted in batches (WorkerOutbox). */
export interface Outbox {
  push(kind: number, taskId: number, payload: unknown): void;
}

/**
 * The worker-side context of one running task. The AbortController and the logger are made on
 * first use: most tasks never touch them, and the hot path allocates nothing it does not need.
 */
export class RunningTask implements TaskContext {
  private controller: AbortController | undefined;
  private abortReason: Error | undefined;
  private taskLogger: TaskLogger | undefined;

  constructor(
    readonly taskId: number,
    readonly attempt: number,
    private readonly outbox: Outbox,
  ) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get logger(): TaskLogger {
    if (this.taskLogger === undefined) {
      const log = (level: LogLevel) => (message: string, fields?: unknown) =>
        this.outbox.push(recordKind.log, this.taskId, [level, String(message), fields]);
      this.taskLogger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
    }
    return this.taskLogger;
  }

  progress(value: unknown): void {
    this.outbox.push(recordKind.progress, this.taskId, value);
  }

  /** Idempotent: only the first reason counts. */
  abort(cause: 'timeout' | 'cancel', message: string): void {
    if (this.abortReason !== undefined) return;
    const reason = new Error(message);
    reason.name = cause === 'timeout' ? 'TimeoutError' : 'AbortError';
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}
