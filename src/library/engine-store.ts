import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Clock } from '../core/clock.js';
import { ValkyrieError } from '../core/errors.js';
import { openPostgresStores } from '../store/postgres/index.js';
import type { QueueStore } from '../store/queue.js';
import { openSqliteStores } from '../store/sqlite/index.js';
import type { ResolvedStoreOptions } from './options.js';

/** A durable store opened for an engine. */
export interface OpenedEngineStore {
  readonly queue: QueueStore;
  /** Writes are applied in the order made (one SQLite connection), so a claim needs not wait for an enqueue. */
  readonly orderedWrites: boolean;
  readonly leaseTtlMs: number;
  /** The name this engine's leases are granted to. */
  readonly worker: string;
  close(): Promise<void>;
}

type DurableStoreOptions = Exclude<ResolvedStoreOptions, { kind: 'memory' }>;

function queueOptions(options: DurableStoreOptions, clock: Clock) {
  return { clock, capacity: options.capacity };
}

function workerName(): string {
  return `engine:${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** Opens a SQLite store (synchronous, as better-sqlite3 is); throws VK_STORE* when the file is unusable. */
export function openSqliteEngineStore(
  options: Extract<DurableStoreOptions, { kind: 'sqlite' }>,
  clock: Clock,
): OpenedEngineStore {
  const stores = openSqliteStores(options.path, {
    synchronous: options.synchronous,
    busyTimeoutMs: options.busyTimeoutMs,
    queue: queueOptions(options, clock),
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
  clock: Clock,
): Promise<OpenedEngineStore | undefined> {
  switch (options.kind) {
    case 'memory':
      return undefined;
    case 'sqlite':
      return openSqliteEngineStore(options, clock);
    case 'postgres': {
      const stores = await openPostgresStores(options.url, {
        ...(options.schema === undefined ? {} : { schema: options.schema }),
        queue: queueOptions(options, clock),
      });
      return {
        queue: stores.queue,
        orderedWrites: false,
        leaseTtlMs: options.leaseTtlMs,
        worker: workerName(),
        close: () => stores.close(),
      };
    }
  }
}

/** For `new Engine()` without `openEngine()`: only the stores that open synchronously. */
export function openEngineStoreNow(
  options: ResolvedStoreOptions,
  clock: Clock,
): OpenedEngineStore | undefined {
  if (options.kind === 'memory') return undefined;
  if (options.kind === 'sqlite') return openSqliteEngineStore(options, clock);
  throw new ValkyrieError(
    'VK_ENGINE_CONFIG',
    'new Engine(): a Postgres store opens asynchronously; use `await openEngine({ store })` instead',
  );
}
