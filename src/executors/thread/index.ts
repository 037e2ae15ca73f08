export type { ResolvedThreadPoolOptions, ThreadPoolOptions } from './config.js';
export { poolDefaults } from './config.js';
export type { PoolEvent, PoolEventListener } from './events.js';
export type {
  TaskError,
  TaskFailureReason,
  TaskOutcome,
  TaskOutcomeKind,
  WorkerLossReason,
} from './outcome.js';
export type { TaskContext, TaskFunction, TaskLogger } from './task-context.js';
export type { PoolTask, RunTaskOptions, TaskLogEntry } from './task-record.js';
export type { CloseOptions, PoolStats, TaskModuleRef } from './thread-pool.js';
export { ThreadPool } from './thread-pool.js';
