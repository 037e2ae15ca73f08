import type { Stores } from '../store.js';
import { PostgresConcurrencyStore } from './concurrency-store.js';
import { PostgresLogStore } from './log-store.js';
import { openPostgresDatabase, type PostgresOptions } from './open.js';
import { PostgresRunStore } from './run-store.js';
import { PostgresStaleWriteStore } from './stale-write-store.js';

export type { PostgresOptions } from './open.js';

/**
 * Opens the stores on a Postgres database (see `openPostgresDatabase` for what is refused). Several
 * processes — control-plane replicas — may open the same database and schema; run ids and run numbers
 * stay unique across them. Both stores share one small pool.
 */
export async function openPostgresStores(url: string, options?: PostgresOptions): Promise<Stores> {
  const db = await openPostgresDatabase(url, options);
  const close = () => db.close();
  return {
    runs: new PostgresRunStore(db),
    logs: new PostgresLogStore(db),
    staleWrites: new PostgresStaleWriteStore(db),
    concurrency: new PostgresConcurrencyStore(db),
    close,
    [Symbol.asyncDispose]: close,
  };
}
