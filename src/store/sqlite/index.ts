import { resolveQueueOptions } from '../queue-rows.js';
import { processRunOwner } from '../run-fence.js';
import type { Stores } from '../store.js';
import { SqliteConcurrencyStore } from './concurrency-store.js';
import { DeletedFileRestorer } from './deleted-file.js';
import { GroupCommit } from './group-commit.js';
import { LogRowInserts } from './log-rows.js';
import { SqliteLogStore } from './log-store.js';
import { openSqliteDatabase, type SqliteOptions } from './open.js';
import { SqliteQueueStore } from './queue-store.js';
import { SqliteRunFence } from './run-fence.js';
import { SqliteRunRecoveryStore } from './run-recovery-store.js';
import { SqliteRunStore } from './run-store.js';
import { SqliteRunnerStore } from './runner-store.js';
import { SqliteStaleWriteStore } from './stale-write-store.js';
import { SqliteTokenStore } from './token-store.js';

export type { DeletedFileEvent } from './deleted-file.js';
export type { SqliteOptions } from './open.js';

/**
 * Opens the embedded store on one file (see `openSqliteDatabase` for what is refused). Opening is
 * synchronous because better-sqlite3 is; the stores' methods still return promises, as the contracts
 * are shared with Postgres. One connection serves every store, so their writes are serialised.
 */
export function openSqliteStores(path: string, options?: SqliteOptions): Stores {
  const queueOptions = resolveQueueOptions(options?.queue);
  const db = openSqliteDatabase(path, options);
  const commits = new GroupCommit(db);
  const onDeleted = options?.onDeleted;
  const restorer =
    onDeleted === undefined || path === ':memory:' ? undefined : new DeletedFileRestorer(path, onDeleted);
  const queue = new SqliteQueueStore(db, commits, queueOptions, path === ':memory:' ? undefined : path);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      queue.stopWatching();
      // Writes still waiting for their group commit are applied first; closing checkpoints the WAL.
      commits.flush();
      if (restorer === undefined) db.close();
      else restorer.close(db);
      resolve();
    });
    return closing;
  };
  // One set of prepared log_lines inserts for the connection: LogStore.append and RunStore.updateJobs' lines.
  const logRows = new LogRowInserts(db);
  const fence = new SqliteRunFence(db, commits, options?.runOwner ?? processRunOwner());
  return {
    runs: new SqliteRunStore(db, commits, logRows, fence),
    logs: new SqliteLogStore(db, commits, logRows, fence),
    queue,
    staleWrites: new SqliteStaleWriteStore(db, commits),
    recovery: new SqliteRunRecoveryStore(db, commits, fence),
    concurrency: new SqliteConcurrencyStore(db, commits),
    tokens: new SqliteTokenStore(db, commits),
    runners: new SqliteRunnerStore(db, commits),
    ...(path === ':memory:' ? {} : { sqliteFile: path }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
