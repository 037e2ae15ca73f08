import { Worker } from 'node:worker_threads';
import { asError } from '../core/error-message.js';
import { firstBuilt } from '../platform/built-file.js';
import type { Diagnostic } from '../workflow/diagnostics.js';
import type { Workflow } from '../workflow/model.js';
import type { ParseResult } from '../workflow/parse.js';
import type { ValidateOptions } from '../workflow/validate.js';

/** What the thread is sent: one workflow to parse (parseWorkflow's arguments). */
export interface ParseRequest {
  readonly source: string;
  readonly path: string;
  readonly options: ValidateOptions;
}

/** What the thread posts: `ready` once, when it can parse; then one answer per request, in order. */
export type ParseReply =
  | { readonly kind: 'ready' }
  | {
      readonly kind: 'parsed';
      readonly workflow?: Workflow;
      readonly diagnostics: readonly Diagnostic[];
      readonly heapBytes: number;
    }
  /** parseWorkflow threw (a bug: it reports problems, it does not throw them), or the result would not copy. */
  | { readonly kind: 'failed'; readonly message: string; readonly heapBytes: number };

export type ParseOutcome =
  | { readonly kind: 'parsed'; readonly result: ParseResult }
  /** Parsing took longer than the limit: the thread was stopped, and is replaced. */
  | { readonly kind: 'timed_out'; readonly timeoutMs: number }
  /** `queued` parses were queued already (the most allowed); this one was not. */
  | { readonly kind: 'busy'; readonly queued: number }
  | { readonly kind: 'closed' };

export interface WorkflowParseThreadOptions {
  /** How long one parse may take, counted from when the thread starts it. */
  readonly timeoutMs: number;
  /** How many parses may be queued at once, the running one included; more are answered `busy`. */
  readonly maxQueued: number;
  /**
   * A thread whose heap (V8's total_heap_size, reported after each parse) reaches this many bytes is
   * replaced once it has been idle for `recycleIdleMs`: V8 keeps the heap a huge parse grew to (135 MiB
   * after 60,000 unknown keys, against 18 MiB at start) until the thread ends. Default 64 MiB.
   */
  readonly recycleHeapBytes?: number;
  /** Default 1 s: a burst of large submissions keeps its thread, and the next one pays no start-up. */
  readonly recycleIdleMs?: number;
}

/** 1 MiB of YAML errors takes 3 to 10 s on the machines measured; a real workflow, milliseconds. */
export const defaultParseTimeoutMs = 10_000;
export const defaultMaxQueuedParses = 16;
export const defaultRecycleHeapBytes = 64 * 1024 * 1024;
export const defaultRecycleIdleMs = 1_000;

/** What one parse may ask beyond the thread's defaults (WorkflowParseThread.parse). */
export interface ParseLimits {
  /** Overrides the thread's `timeoutMs` for this parse (a takeover's longer limit, run-takeover.ts). */
  readonly timeoutMs?: number;
  /**
   * A takeover's parse: it has one place of its own beyond `maxQueued`, and goes before the submissions
   * waiting, so that no load of submissions keeps a run nobody drives waiting for its parse.
   */
  readonly takeover?: boolean;
}

interface PendingParse {
  readonly request: ParseRequest;
  readonly timeoutMs: number;
  readonly takeover: boolean;
  settle(outcome: ParseOutcome): void;
  fail(error: Error): void;
}

interface ParseWorker {
  readonly worker: Worker;
  ready: boolean;
  /** Resolves true once the thread is ready, false if it exits first; never rejects. */
  readonly started: Promise<boolean>;
  readonly markStarted: (ready: boolean) => void;
  /** Its heap after its last parse reached recycleHeapBytes: it is replaced once idle. */
  grown: boolean;
  /** An exception nothing caught in the thread (out of memory, say), reported before it exits. */
  failure?: Error;
}

/**
 * Parses submitted workflows (workflow/parse.ts, the same function `valkyrie run` calls) on one
 * worker thread, one at a time, so that a workflow costly to read — 1 MiB of YAML errors, or a flow
 * list of 500,000 items, takes seconds — holds up only the submissions queued behind it, not every
 * other request, runner connection and timer of the server's event loop.
 *
 * Lifecycle: `parse()` any number of times, also concurrently (they queue, at most `maxQueued`
 * with the running one) → `close()`, idempotent, after which every parse, waiting or new, is
 * `closed`. The thread starts at `warm()` or the first parse, does not keep the process alive, and is replaced
 * after it is stopped at the time limit or dies; a thread that dies before it is ready fails the
 * parses waiting, and the next parse starts another. A thread whose heap grew past
 * `recycleHeapBytes` is stopped after `recycleIdleMs` without a parse, and the next parse starts
 * another, so that the memory of one huge parse is given back.
 */
export class WorkflowParseThread {
  private thread: ParseWorker | undefined;
  private readonly waiting: PendingParse[] = [];
  private running: { readonly parse: PendingParse; readonly timer: NodeJS.Timeout } | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** A stopped thread's termination: its successor starts after it, so threads never pile up. */
  private stopping: Promise<unknown> | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: WorkflowParseThreadOptions) {}

  /**
   * `limits.timeoutMs` overrides the limit for this parse. A submission is `busy` when `maxQueued`
   * submissions are queued already (the running one included); a takeover (`limits.takeover`) when
   * another takeover is — it has a place of its own, and is parsed next, after the running parse.
   */
  parse(
    source: string,
    path: string,
    options: ValidateOptions = {},
    { timeoutMs = this.options.timeoutMs, takeover = false }: ParseLimits = {},
  ): Promise<ParseOutcome> {
    if (this.closing !== undefined) return Promise.resolve({ kind: 'closed' });
    const queued = this.queued(takeover);
    if (queued >= (takeover ? 1 : this.options.maxQueued)) return Promise.resolve({ kind: 'busy', queued });
    return new Promise<ParseOutcome>((resolve, reject) => {
      const parse = {
        request: { source, path, options },
        timeoutMs,
        takeover,
        settle: resolve,
        fail: reject,
      };
      if (takeover) this.waiting.unshift(parse);
      else this.waiting.push(parse);
      this.next();
    });
  }

  /** The parses of that kind (takeover or submission) waiting or running. */
  private queued(takeover: boolean): number {
    const waiting = this.waiting.filter((parse) => parse.takeover === takeover).length;
    return waiting + (this.running?.parse.takeover === takeover ? 1 : 0);
  }

  /** A parse's limit unless it gives its own. */
  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /** The current thread's id (Worker.threadId), undefined when none is started: another after a replacement. */
  get threadId(): number | undefined {
    return this.thread?.worker.threadId;
  }

  /** Stops the thread at once; parses waiting or running resolve `closed`. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.idleTimer);
      const parses = this.waiting.splice(0);
      if (this.running !== undefined) {
        clearTimeout(this.running.timer);
        parses.unshift(this.running.parse);
        this.running = undefined;
      }
      for (const parse of parses) parse.settle({ kind: 'closed' });
      const thread = this.thread;
      this.thread = undefined;
      await thread?.worker.terminate();
      await this.stopping;
    })();
    return this.closing;
  }

  /**
   * Starts the thread now rather than at the first parse (a burst of submissions to a server just
   * started queued behind the thread's start-up, and past `maxQueued` was answered busy). Resolves
   * true once a thread can parse, or while one replaces another that was stopped; false once closed,
   * or when the thread could not start (the next parse reports why, and another call tries again).
   * Never rejects.
   */
  warm(): Promise<boolean> {
    if (this.closing !== undefined) return Promise.resolve(false);
    if (this.stopping !== undefined) return Promise.resolve(true);
    try {
      return (this.thread ?? this.start()).started;
    } catch {
      return Promise.resolve(false);
    }
  }

  /** Sends the first waiting parse to the thread, starting one if none runs, when the thread is free. */
  private next(): void {
    if (this.closing !== undefined || this.running !== undefined || this.stopping !== undefined) return;
    const parse = this.waiting[0];
    if (parse === undefined) return;
    let thread = this.thread;
    if (thread === undefined) {
      try {
        thread = this.start();
      } catch (error) {
        for (const waiting of this.waiting.splice(0)) waiting.fail(asError(error));
        return;
      }
    }
    if (!thread.ready) return;
    this.waiting.shift();
    clearTimeout(this.idleTimer);
    const { timeoutMs } = parse;
    // setTimeout fires at once past 2^31 - 1 ms (24.8 days): a limit beyond is that.
    const timer = setTimeout(() => this.timeOut(timeoutMs), Math.min(timeoutMs, 2 ** 31 - 1));
    this.running = { parse, timer };
    thread.worker.postMessage(parse.request);
  }

  /** Once nothing is left to parse, replaces a thread that grew, if it stays idle for recycleIdleMs. */
  private recycleWhenIdle(thread: ParseWorker): void {
    if (!thread.grown || this.running !== undefined || this.waiting.length > 0) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.thread !== thread || this.running !== undefined || this.closing !== undefined) return;
      this.thread = undefined;
      // As after a time-out: a parse sent meanwhile waits for the end of this thread, then starts the next.
      this.stopping = thread.worker.terminate().finally(() => {
        this.stopping = undefined;
        this.next();
      });
    }, this.options.recycleIdleMs ?? defaultRecycleIdleMs);
    this.idleTimer.unref();
  }

  private start(): ParseWorker {
    // The main thread's stack (V8's default, 984 KiB), not a worker's 4 MiB: what overflows it in
    // process (zod's issues of a 250,000-item list do) overflows here too, and answers the same 500.
    const worker = new Worker(parseThreadEntryPath(), { resourceLimits: { stackSizeMb: 984 / 1024 } });
    let markStarted = (_ready: boolean) => {};
    const started = new Promise<boolean>((resolve) => {
      markStarted = resolve;
    });
    const thread: ParseWorker = { worker, ready: false, grown: false, started, markStarted };
    this.thread = thread;
    // Not a reason for the process to stay: the server's socket is, while it listens.
    thread.worker.unref();
    thread.worker.on('message', (reply: ParseReply) => {
      if (this.thread === thread) this.received(thread, reply);
    });
    thread.worker.on('error', (error) => {
      thread.failure = error;
    });
    thread.worker.on('exit', (exitCode) => {
      thread.markStarted(false);
      if (this.thread === thread) this.exited(thread, exitCode);
    });
    return thread;
  }

  private received(thread: ParseWorker, reply: ParseReply): void {
    if (reply.kind === 'ready') {
      thread.ready = true;
      thread.markStarted(true);
    }
    const running = this.running;
    if (reply.kind !== 'ready' && running !== undefined) {
      clearTimeout(running.timer);
      this.running = undefined;
      thread.grown = reply.heapBytes >= (this.options.recycleHeapBytes ?? defaultRecycleHeapBytes);
      const { source } = running.parse.request;
      if (reply.kind === 'failed')
        running.parse.fail(new Error(`parsing the workflow failed: ${reply.message}`));
      else
        running.parse.settle({
          kind: 'parsed',
          result: {
            diagnostics: reply.diagnostics,
            source,
            ...(reply.workflow === undefined ? {} : { workflow: reply.workflow }),
          },
        });
    }
    this.next();
    this.recycleWhenIdle(thread);
  }

  private exited(thread: ParseWorker, exitCode: number): void {
    this.thread = undefined;
    const reason = thread.failure === undefined ? '' : `: ${thread.failure.message}`;
    const error = new Error(`the workflow parse thread stopped (exit code ${exitCode})${reason}`);
    const failed = thread.ready ? [] : this.waiting.splice(0);
    if (this.running !== undefined) {
      clearTimeout(this.running.timer);
      failed.unshift(this.running.parse);
      this.running = undefined;
    }
    for (const parse of failed) parse.fail(error);
    this.next();
  }

  private timeOut(timeoutMs: number): void {
    const { running, thread } = this;
    if (running === undefined || thread === undefined) return;
    this.running = undefined;
    this.thread = undefined;
    running.parse.settle({ kind: 'timed_out', timeoutMs });
    // A busy thread is stopped where it is: V8 ends the running script.
    this.stopping = thread.worker.terminate().finally(() => {
      this.stopping = undefined;
      this.next();
    });
  }
}

/**
 * Where the thread's entry module is. Threads run plain JavaScript, so this is the file `tsc`
 * writes under dist/, reached from each layout this module runs in (as executors/thread/worker-entry.ts):
 * - compiled by tsc, dist/server/: the sibling workflow-parse-main.js;
 * - bundled into the CLI, dist/valkyrie*.js: server/workflow-parse-main.js beside it;
 * - TypeScript sources under vitest, src/server/: the built one in dist/ (`npm run build` first).
 */
function parseThreadEntryPath(): string {
  const path = firstBuilt(
    [
      './workflow-parse-main.js',
      './server/workflow-parse-main.js',
      '../../dist/server/workflow-parse-main.js',
    ],
    import.meta.url,
  );
  if (path !== undefined) return path;
  throw new Error(
    'the workflow parse thread is not built (dist/server/workflow-parse-main.js is missing; run npm run build)',
  );
}
