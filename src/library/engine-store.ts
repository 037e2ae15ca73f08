import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../core/clock.js';
import { ValkyrieError } from '../core/errors.js';
import { ListenerSet } from '../core/listener-set.js';
import { openPostgresStores } from '../store/postgres/index.js';
import type { UnansweredEvent } from '../store/postgres/unanswered-calls.js';
import type { Lease, NewQueueJob, QueueStore } from '../store/queue.js';
import { openSqliteStores } from '../store/sqlite/index.js';
import type { EngineQueueHooks } from './engine-queue.js';
import type { JobRecord } from './job-record.js';
import { storedKeyConflict } from './key-conflicts.js';
import { type ResolvedStoreOptions, retryDefaults } from './options.js';
import { StoreEngineQueue } from './store-engine-queue.js';
import { storedPayload } from './stored-job.js';

/** A durable store opened for an engine. */
export interface OpenedEngineStore {
  readonly queue: QueueStore;
  /** Writes are applied in the order made (one SQLite connection), so a claim needs not wait for an enqueue. */
  readonly orderedWrites: boolean;
  readonly leaseTtlMs: number;
  /** The name this engine's leases are granted to. */
  readonly worker: string;
  /** Postgres: told when a call goes unanswered for `stalledAfterMs`, and when it ends. */
  readonly stalls?: ListenerSet<UnansweredEvent>;
  close(): Promise<void>;
}

type DurableStoreOptions = Exclude<ResolvedStoreOptions, { kind: 'memory' }>;

/**
 * The engine's clock and aging interval: the store's queue orders its jobs by them (a job's queue key
 * is made when it is stored), as the engine's own queue orders the jobs it holds.
 */
export interface QueueTiming {
  readonly clock: Clock;
  readonly agingIntervalMs: number;
}

function queueOptions(options: DurableStoreOptions, timing: QueueTiming) {
  return { clock: timing.clock, agingIntervalMs: timing.agingIntervalMs, capacity: options.capacity };
}

function workerName(): string {
  return `engine:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** Opens a SQLite store (synchronous, as better-sqlite3 is); throws VK_STORE* when the file is unusable. */
export function openSqliteEngineStore(
  options: Extract<DurableStoreOptions, { kind: 'sqlite' }>,
  timing: QueueTiming,
): OpenedEngineStore {
  const stores = openSqliteStores(options.path, {
    synchronous: options.synchronous,
    busyTimeoutMs: options.busyTimeoutMs,
    queue: queueOptions(options, timing),
  });
  return {
    queue: stores.queue,
    orderedWrites: true,
    leaseTtlMs: options.leaseTtlMs,
    worker: workerName(),
    close: () => stores.close(),
  };
}

/** Opens the engine's durable store; undefined for the in-memory queue. */
export async function openEngineStore(
  options: ResolvedStoreOptions,
  timing: QueueTiming,
): Promise<OpenedEngineStore | undefined> {
  switch (options.kind) {
    case 'memory':
      return undefined;
    case 'sqlite':
      return openSqliteEngineStore(options, timing);
    case 'postgres': {
      const stalls = new ListenerSet<UnansweredEvent>();
      const stores = await openPostgresStores(options.url, {
        ...(options.schema === undefined ? {} : { schema: options.schema }),
        queue: queueOptions(options, timing),
        unanswered: { afterMs: options.stalledAfterMs, report: (event) => stalls.emit(event) },
      });
      return {
        queue: stores.queue,
        orderedWrites: false,
        leaseTtlMs: options.leaseTtlMs,
        worker: workerName(),
        stalls,
        close: () => stores.close(),
      };
    }
  }
}

/** For `new Engine()` without `openEngine()`: only the stores that open synchronously. */
export function openEngineStoreNow(
  options: ResolvedStoreOptions,
  timing: QueueTiming,
): OpenedEngineStore | undefined {
  if (options.kind === 'memory') return undefined;
  if (options.kind === 'sqlite') return openSqliteEngineStore(options, timing);
  throw new ValkyrieError(
    'VK_ENGINE_CONFIG',
    'new Engine(): a Postgres store opens asynchronously; use `await openEngine({ store })` instead',
  );
}

/** What the engine lends the queue on its durable store. */
export interface StoreQueueHost {
  readonly hooks: EngineQueueHooks;
  /** An entry for a stored job the engine did not enqueue; undefined if it cannot run it. */
  adopt(lease: Lease): JobRecord | undefined;
  /** The tasks the engine claims jobs of, by name. */
  tasks(): readonly string[];
  readonly runsJobs: boolean;
}

/** The queue on a durable store: jobs are stored by task name, input and non-default options. */
export function storeEngineQueue(store: OpenedEngineStore, host: StoreQueueHost): StoreEngineQueue {
  return new StoreEngineQueue({
    store: store.queue,
    closeStore: () => store.close(),
    orderedWrites: store.orderedWrites,
    worker: store.worker,
    leaseTtlMs: store.leaseTtlMs,
    hooks: host.hooks,
    encode: encodeJob,
    adopt: host.adopt,
    tasks: host.tasks,
    runsJobs: host.runsJobs,
    // Compared on the input's JSON form, which `encode` made it.
    conflict: storedKeyConflict,
  });
}

function encodeJob(job: JobRecord): NewQueueJob {
  const { priority, retry, idempotencyKey } = job.options;
  const notBefore = job.notBefore;
  // The input is in its JSON form already (job-intake.ts): every attempt, here or on another engine
  // after a crash, sees the input the store holds.
  // The effective policy travels with the job: any engine that runs it applies this one.
  const payload = storedPayload(job.input, job.options, retryDefaults);
  // One literal with every field (undefined ones are the store's defaults): spreading optional
  // fields in built and copied two more objects per job. The JSON is made here, and the store
  // need not make it again.
  return {
    task: job.task.name,
    payload,
    payloadJson: JSON.stringify(payload),
    priority,
    notBefore: notBefore === undefined ? undefined : Math.ceil(notBefore),
    idempotencyKey,
    maxAttempts: retry.maxAttempts,
    // A crash is a lost worker: its job runs again only if the policy retries lost workers.
    onLeaseExpiry: retry.retryOn.includes('worker_lost') ? 'requeue' : 'fail',
  };
}
