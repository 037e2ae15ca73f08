import type { ValkyrieError } from '../core/errors.js';
import type { EnqueueResult, Lease, NewQueueJob, QueueStore } from '../store/queue.js';
import type { EngineQueueHooks } from './engine-queue.js';
import type { JobRecord } from './job-record.js';

/** What a StoreEngineQueue (store-engine-queue.ts) is made with. */
export interface StoreEngineQueueOptions {
  readonly store: QueueStore;
  /** Closes what backs the store; called once, after the last write. */
  readonly closeStore: () => Promise<void>;
  /**
   * The store applies writes in the order they are made (SQLite's single group commit), so a claim
   * made after an enqueue sees it without waiting for its commit. Postgres claims on a lane of its own.
   */
  readonly orderedWrites: boolean;
  readonly worker: string;
  readonly leaseTtlMs: number;
  readonly hooks: EngineQueueHooks;
  /** The store job for an entry this engine enqueues. */
  encode(entry: JobRecord): NewQueueJob;
  /** An entry for a lease on a job this engine did not enqueue; undefined if it cannot run it. */
  adopt(lease: Lease): JobRecord | undefined;
  /** The tasks this engine can run, by name: it claims only their jobs. */
  tasks(): readonly string[];
  /**
   * False for a producer: its stored jobs are watched (stored-job-watch.ts, every 200 ms) until
   * another engine has run them, as jobs found by idempotency key are.
   */
  readonly runsJobs: boolean;
  /** Why an entry may not follow the stored job its key matched (another task or input); else undefined. */
  conflict(entry: JobRecord, held: EnqueueResult['job']): ValkyrieError | undefined;
}
