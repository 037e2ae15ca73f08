export type { EngineStats } from './engine.js';
export { Engine, openEngine } from './engine.js';
export type { EngineQueue, QueueEntry } from './engine-queue.js';
export type { EnqueuedHandles, EnqueueRequest, EnqueueRequests } from './enqueue-request.js';
export type { EngineEvent, EngineEventListener, JobOutcome } from './events.js';
export type { EngineTask, JobHandle } from './job-record.js';
export type { JobFunction, Jsonified } from './jsonified.js';
export type {
  EngineOptions,
  EngineStoreOptions,
  JobOptions,
  RetryableKind,
  RetryPolicy,
} from './options.js';
export type { StoredJob } from './stored-job.js';
export type {
  NodeInput,
  NodeOutcome,
  WorkflowDefinition,
  WorkflowEdge,
  WorkflowNode,
  WorkflowOutput,
  WorkflowResult,
} from './workflow.js';
