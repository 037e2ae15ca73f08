import { hostname } from 'node:os';
import type BetterSqlite3 from 'better-sqlite3';
import { Database, nativeBinding } from './driver.js';
import { sqliteCode } from './errors.js';

/**
 * One `valkyrie server` per SQLite state file, and per directory of workspace bundles. Replicas are
 * for Postgres: on SQLite a run handed to, or taken over by, a second server would miss the bundles
 * kept in the first one's data directory, and neither server's runners, leases or offers are known to
 * the other; two servers on one bundle directory would each sweep away the bundles of the other's
 * runs. `valkyrie run` and the other commands open the state file without this lock, as they always
 * have.
 *
 * The lock is a write transaction held open on a small SQLite file (`<state file>-server.lock` next
 * to the state file, `server.lock` in the bundle directory): SQLite takes it with a POSIX record lock,
 * which the kernel drops when the process ends however it ends (SIGKILL, a crash, the OOM killer), so
 * a server that died never blocks the next start, and no pid is ever judged alive or dead. The
 * holder's pid, host and start are committed to the file before the lock is taken for good, for the
 * message of a start refused; readers may read them while the lock is held (it is SQLite's RESERVED
 * lock, which lets them).
 */

/** The server holding a state file's lock, as it wrote itself into the lock file. */
export interface ServerLockHolder {
  readonly pid: number;
  readonly host: string;
  /** When the holder took the lock, ISO 8601. */
  readonly since: string;
}

export type ServerLockOutcome =
  | { readonly kind: 'acquired'; readonly lock: ServerLock }
  /** `holder`: undefined when it could not be read (another server taking the lock at this moment). */
  | { readonly kind: 'held'; readonly file: string; readonly holder: ServerLockHolder | undefined };

/** The lock file of state file `dbPath`; `valkyrie.db-*` as SQLite's own, so the state dir's .gitignore covers it. */
export function serverLockFile(dbPath: string): string {
  return `${dbPath}-server.lock`;
}

/** The files taking lock `file` may create: the lock and, while the holder's row is written, its journal. */
export function serverLockFiles(file: string): string[] {
  return [file, `${file}-journal`];
}

/** How long a commit of the holder's row, or a read of it, waits for the other's brief lock. */
const briefWaitMs = 2000;
/** Takes of the lock that lost it to another start between its two steps, before telling it as held. */
const attempts = 3;

/**
 * Takes the server lock `file` (serverLockFile of a state file, or a bundle directory's), whose
 * directory must exist. Never waits for a holder: a lock held is told at once, with who holds it.
 */
export function acquireServerLock(file: string): ServerLockOutcome {
  const db = new Database(file, { timeout: briefWaitMs, nativeBinding });
  let acquired = false;
  try {
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (!tryReserve(db)) return { kind: 'held', file, holder: readHolder(db) };
      writeHolder(db);
      // The row is committed (readable by a start refused) and the lock let go meanwhile: taken again.
      if (tryReserve(db)) {
        acquired = true;
        return { kind: 'acquired', lock: new ServerLock(file, db) };
      }
      const holder = readHolder(db);
      if (holder !== undefined && !isThisProcess(holder)) return { kind: 'held', file, holder };
    }
    return { kind: 'held', file, holder: undefined };
  } finally {
    if (!acquired) db.close();
  }
}

/** This process's hold on a state file. */
export class ServerLock {
  #released = false;

  constructor(
    readonly file: string,
    private readonly db: BetterSqlite3.Database,
  ) {}

  /** Lets the lock go (ending the process does too). Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.db.close();
  }
}

/** BEGIN IMMEDIATE without waiting: false when another connection holds the file's write lock. */
function tryReserve(db: BetterSqlite3.Database): boolean {
  db.pragma('busy_timeout = 0');
  try {
    db.exec('BEGIN IMMEDIATE');
    return true;
  } catch (error) {
    if (sqliteCode(error)?.startsWith('SQLITE_BUSY')) return false;
    throw error;
  } finally {
    db.pragma(`busy_timeout = ${briefWaitMs}`);
  }
}

function writeHolder(db: BetterSqlite3.Database): void {
  db.exec(
    'CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, host TEXT NOT NULL, since TEXT NOT NULL)',
  );
  db.exec('DELETE FROM holder');
  db.prepare('INSERT INTO holder (pid, host, since) VALUES (?, ?, ?)').run(
    process.pid,
    hostname(),
    new Date().toISOString(),
  );
  db.exec('COMMIT');
}

/** The holder's row, or undefined when there is none yet (a holder still writing it) or it cannot be read. */
function readHolder(db: BetterSqlite3.Database): ServerLockHolder | undefined {
  try {
    return db.prepare<[], ServerLockHolder>('SELECT pid, host, since FROM holder').get();
  } catch {
    return undefined;
  }
}

function isThisProcess(holder: ServerLockHolder): boolean {
  return holder.pid === process.pid && holder.host === hostname();
}
