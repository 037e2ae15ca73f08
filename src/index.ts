/**
 * Valkyrie as a library: an engine that runs jobs and workflows of JavaScript tasks on a pool of
 * worker threads. Everything else in the package is internal and may change.
 */

export type { ErrorCode } from './core/errors.js';
export { isValkyrieError, ValkyrieError } from './core/errors.js';
export type { Priority } from './core/priority.js';
// The pool is public because an engine can be given one (EngineOptions.pool) to share it.
export type {
  CloseOptions,
  PoolEvent,
  PoolEventListener,
  PoolStats,
  PoolTask,
  RunTaskOptions,
  TaskContext,
  TaskError,
  TaskFailureReason,
  TaskFunction,
  TaskLogEntry,
  TaskLogger,
  TaskModuleRef,
  TaskOutcome,
  TaskOutcomeKind,
  ThreadPoolOptions,
  WorkerLossReason,
} from './executors/thread/index.js';
export { ThreadPool } from './executors/thread/index.js';
export * from './library/index.js';
