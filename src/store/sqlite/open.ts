import { dirname, join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { ValkyrieError } from '../../core/errors.js';
import { isDirectory } from '../../platform/is-directory.js';
import { makeDirectorySync } from '../../platform/make-directory.js';
import type { QueueOptions } from '../queue.js';
import type { RunOwner } from '../recovery.js';
import type { DeletedFileEvent } from './deleted-file.js';
import { Database, nativeBinding } from './driver.js';
import { isCorruption, type StateFile, sqliteCode, toStoreError } from './errors.js';
import { assertUsableSchema, migrate } from './migrations.js';
import { openReadOnlyDatabase, unwritableCause } from './read-only.js';

export interface SqliteOptions {
  /**
   * `normal` (the default): in WAL mode a commit survives a crash of the process, and the last commits
   * before a power loss or OS crash may be lost (the file stays consistent). `full`: a commit also
   * survives power loss, at the cost of an fsync per transaction.
   */
  readonly synchronous?: 'normal' | 'full';
  /**
   * How long a write waits while another process holds the file's write lock before it fails with
   * VK_STORE_LOCKED (nothing of it written). Default 5000 ms.
   */
  readonly busyTimeoutMs?: number;
  /** Capacity, aging, idempotency window, clock of the queue store. */
  readonly queue?: QueueOptions;
  /**
   * The owner this store writes runs for (store/run-fence.ts): writes of a run recorded as owned by
   * another are refused. Default: this process. Tests open two stores on one file as two owners.
   */
  readonly runOwner?: RunOwner;
  /**
   * Given: the file is watched for being deleted while open (a step's `git clean -fdx` in a workspace
   * holding it) and put back when the stores close (deleted-file.ts), and this hears of it.
   */
  readonly onDeleted?: (event: DeletedFileEvent) => void;
  /**
   * Only reads: the file must exist and is opened as it is (read-only.ts) — not migrated, not switched
   * to WAL, every write refused. For commands that only read, where this user may not write the file.
   */
  readonly readOnly?: boolean;
}

/** Several processes (CLI, server, runners on one machine) may share a file; writers queue this long. */
export const defaultBusyTimeoutMs = 5000;

/**
 * Opens a state file, creating it and its directory when missing, and migrates it to the current
 * schema. A file that is not usable — another program's, damaged, or written by a newer Valkyrie — is
 * refused before anything is written to it.
 */
export function openSqliteDatabase(path: string, options: SqliteOptions = {}): BetterSqlite3.Database {
  let db: BetterSqlite3.Database | undefined;
  const busyTimeoutMs = options.busyTimeoutMs ?? defaultBusyTimeoutMs;
  try {
    if (options.readOnly === true) return openReadOnlyDatabase(path, busyTimeoutMs);
    if (path !== ':memory:') makeDirectorySync(dirname(path));
    db = new Database(path, { timeout: busyTimeoutMs, nativeBinding });
    // Read-only checks first: the pragmas below write to the file (journal_mode changes its header).
    assertUsableSchema(db, path);
    enterWalMode(db, busyTimeoutMs);
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma('foreign_keys = ON');
    // Savepoint journals (the group commit runs each write in a savepoint) stay in memory: past 64 KiB
    // SQLite otherwise spills them to a temporary file, created and unlinked by nearly every commit of a
    // large batch. Only a rollback within the transaction reads them; durability is the WAL's.
    db.pragma('temp_store = MEMORY');
    migrate(db, path);
    return db;
  } catch (error) {
    db?.close();
    throw openError({ path, busyTimeoutMs }, error);
  }
}

/**
 * Switching a new file to WAL upgrades the statement's shared lock to an exclusive one, and SQLite
 * answers BUSY at once, without its busy handler, while another process holds the write lock (two
 * `valkyrie run`s started together on a fresh state directory): so this waits out the busy timeout
 * itself. Opening is synchronous, so are the pauses.
 */
function enterWalMode(db: BetterSqlite3.Database, busyTimeoutMs: number): void {
  const deadline = performance.now() + busyTimeoutMs;
  for (let pauseMs = 1; ; pauseMs = Math.min(pauseMs * 2, 50)) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if (sqliteCode(error) !== 'SQLITE_BUSY' || performance.now() + pauseMs > deadline) throw error;
      Atomics.wait(pauseCell, 0, 0, pauseMs);
    }
  }
}

/** Nothing ever wakes it: Atomics.wait on it is a synchronous sleep. */
const pauseCell = new Int32Array(new SharedArrayBuffer(4));

function openError(file: StateFile, error: unknown): ValkyrieError {
  if (error instanceof ValkyrieError) return error;
  if (isCorruption(sqliteCode(error)) && error instanceof Error) {
    return new ValkyrieError(
      'VK_STORE_CORRUPT',
      `${file.path} is not a SQLite database, or is damaged (SQLite: ${error.message}); it was left ` +
        'untouched. Restore it from a backup, or move it away to start with an empty state.',
      { cause: error },
    );
  }
  // SQLite says only "unable to open database file" of a directory given as the file (--db DIR).
  if (file.path !== ':memory:' && isDirectory(file.path))
    return new ValkyrieError(
      'VK_STORE',
      `could not open the state database ${file.path}: it is a directory; name a file in it, such as ${join(file.path, 'valkyrie.db')}`,
      { cause: error },
    );
  const unwritable = file.path === ':memory:' ? undefined : unwritableCause(file.path);
  if (unwritable !== undefined) {
    return new ValkyrieError(
      'VK_STORE_UNWRITABLE',
      `could not open the state database ${file.path}: ${unwritable}. Valkyrie reads and writes ` +
        'the file and writes its directory (the -wal and -shm files): keep the state where this user ' +
        'can write, with --state-dir DIR (or $VALKYRIE_STATE_DIR) or --db FILE, or make it writable.',
      { cause: error },
    );
  }
  return toStoreError(`open the state database ${file.path}`, error, file);
}
