import type { Stores } from '../store.js';
import { SqliteLogStore } from './log-store.js';
import { openSqliteDatabase, type SqliteOptions } from './open.js';
import { SqliteRunStore } from './run-store.js';

export type { SqliteOptions } from './open.js';

/**
 * Opens the embedded store on one file (see `openSqliteDatabase` for what is refused). Opening is
 * synchronous because better-sqlite3 is; the stores' methods still return promises, as the contracts
 * are shared with Postgres. One connection serves both stores, so their writes are serialised.
 */
export function openSqliteStores(path: string, options?: SqliteOptions): Stores {
  const db = openSqliteDatabase(path, options);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      // better-sqlite3 commits synchronously, so nothing is pending; closing checkpoints the WAL.
      db.close();
      resolve();
    });
    return closing;
  };
  return {
    runs: new SqliteRunStore(db),
    logs: new SqliteLogStore(db),
    close,
    [Symbol.asyncDispose]: close,
  };
}
