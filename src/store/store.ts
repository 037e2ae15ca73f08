import type { BundleStore } from './bundles.js';
import type { ConcurrencyStore } from './concurrency.js';
import type { LogStore } from './logs.js';
import type { QueueStore } from './queue.js';
import type { RunRecoveryStore } from './recovery.js';
import type { RunnerStore } from './runners.js';
import type { RunStore } from './runs.js';
import type { StaleWriteStore } from './stale-writes.js';
import type { TokenStore } from './tokens.js';

/** The stores one process opens together, and the single way to close them. */
export interface Stores extends AsyncDisposable {
  readonly runs: RunStore;
  readonly logs: LogStore;
  readonly queue: QueueStore;
  readonly staleWrites: StaleWriteStore;
  readonly recovery: RunRecoveryStore;
  readonly concurrency: ConcurrencyStore;
  readonly tokens: TokenStore;
  readonly runners: RunnerStore;
  /**
   * Workspace bundles in the store itself, where replicas sharing it share them too (Postgres).
   * Absent: the store keeps none, and a server keeps them as files in its data directory.
   */
  readonly bundles?: BundleStore;
  /**
   * The SQLite file the stores are on; absent on Postgres and for a SQLite store in memory. A server
   * holds a lock on it while it serves (server/store-lock.ts): servers share Postgres, never a file.
   */
  readonly sqliteFile?: string;
  /** Idempotent. Pending writes are flushed before it resolves. */
  close(): Promise<void>;
  /**
   * Gives up on a database server that stopped answering, `afterMs` after closing began: every call
   * still waiting for it fails now, so close() can finish (what it had not committed was not
   * written), and close() then rejects with the error returned. Postgres only: SQLite never waits
   * on another machine. Postgres's own close() does this after PostgresOptions.closeGraceMs.
   */
  cut?(afterMs: number): Error;
}
