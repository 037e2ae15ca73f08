import type { TaskError } from './outcome.js';

/**
 * Messages between the pool and its workers. Every message is a flat array whose first element is
 * an opcode; batches carry several records one after another, so a batch of 100 tasks is one
 * postMessage and one structured clone of a single array (measured here: ~0.5 M messages/s one per
 * postMessage, ~1.3 M/s in batches of 100).
 */

/** Pool → worker. */
export const toWorker = {
  /** [DEFINE, typeId, moduleUrl, exportName]: later RUN records name the function by typeId. */
  define: 0,
  /**
   * [RUN, (typeId, attempt, reportStart, count, (taskId, input) × count)…]: groups of tasks that
   * share a function, an attempt number and reportStart, in dispatch order (most batches are one
   * or two groups: two values per task where each task's five cost a fifth of the main thread's
   * time in cloning and allocating). A worker runs up to its concurrency at once and keeps the rest
   * in arrival order; reportStart = 1 asks for a STARTED record, sent for exactly the tasks the pool
   * dispatched while the worker's slots were (as far as it knew) full.
   */
  run: 1,
  /** [ABORT, taskId, reason]: aborts that task's signal. */
  abort: 2,
} as const;
/** The values before a RUN group's tasks: typeId, attempt, reportStart, count. */
export const runGroupHeaderLength = 4;

/** Worker → pool. */
export const fromWorker = {
  /** [READY]: the worker listens for tasks. */
  ready: 0,
  /** [BATCH, (recordKind, taskId, payload)…] */
  batch: 1,
} as const;
export const batchRecordLength = 3;

/** The kind of a record in a worker's BATCH. */
export const recordKind = {
  /** payload: the output */
  succeeded: 0,
  /** payload: WireFailure */
  failed: 1,
  /** payload: WireLog */
  log: 2,
  /** payload: the reported value */
  progress: 3,
  /** payload: undefined; a task sent with reportStart began to run */
  started: 4,
} as const;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** [reason, name, message, stack, code, cause?, errors?] — see TaskError and TaskFailureReason. */
export type WireFailure = readonly [
  reason: 'threw' | 'module' | 'output',
  name: string,
  message: string,
  stack: string | undefined,
  code: string | undefined,
  cause?: TaskError,
  errors?: readonly TaskError[],
];

/** [level, message, fields] */
export type WireLog = readonly [level: LogLevel, message: string, fields: unknown];

/** Data a worker is started with (`workerData`). */
export interface WorkerBootData {
  /** Int32Array over it; slot 0 is incremented by the worker's heartbeat timer. */
  readonly heartbeat: SharedArrayBuffer;
  readonly heartbeatIntervalMs: number;
  /** Results and STARTED records not yet posted (RecordJournalWriter). */
  readonly journal: SharedArrayBuffer;
  /** Tasks the worker runs at once (`concurrentTasksPerWorker`). */
  readonly concurrency: number;
}
