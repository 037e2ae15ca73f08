/**
 * Valkyrie as a library: an engine that runs jobs and workflows of JavaScript tasks on a pool of
 * worker threads. Everything else in the package is internal and may change.
 */

export type { ErrorCode } from './core/errors.js';
export { isValkyrieError, ValkyrieError } from './core/errors.js';
export type { Priority } from './core/priority.js';
export type {
  PoolEvent,
  TaskContext,
  TaskError,
  TaskFunction,
  TaskLogger,
  TaskOutcome,
  ThreadPoolOptions,
} from './executors/thread/index.js';
export * from './library/index.js';
