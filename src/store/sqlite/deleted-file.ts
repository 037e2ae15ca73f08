import { linkSync, rmSync, type Stats, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { makeDirectorySync } from '../../platform/make-directory.js';

/** What became of a state file deleted while a store had it open (by a step's `git clean -fdx`, say). */
export type DeletedFileEvent =
  | { readonly kind: 'deleted'; readonly path: string }
  | { readonly kind: 'restored'; readonly path: string }
  | { readonly kind: 'not_restored'; readonly path: string; readonly reason: string };

/** How often an open file is looked for at its path: one stat, a few µs. */
const checkIntervalMs = 1000;

/**
 * Notices that the file a connection has open was unlinked — its path is gone, or names another
 * file — and, when the connection closes, writes what the connection still sees back to the path
 * (VACUUM INTO a file beside it, then a link that never replaces a file found there), so that the
 * history survives. Until then the connection goes on with the unlinked file, which no other process
 * can open: it is not moved to a restored copy while it runs, since every prepared statement of the
 * stores is bound to it.
 *
 * Lifecycle: the check runs every second from construction (its timer does not hold the process
 * open); `close` ends it, and is called once, instead of the connection's own close, with every
 * write applied.
 */
export class DeletedFileRestorer {
  readonly #path: string;
  readonly #dev: number;
  readonly #ino: number;
  readonly #timer: NodeJS.Timeout;
  #deleted = false;

  constructor(
    path: string,
    private readonly report: (event: DeletedFileEvent) => void,
  ) {
    const stat = statSync(path);
    this.#path = path;
    this.#dev = stat.dev;
    this.#ino = stat.ino;
    this.#timer = setInterval(() => this.check(), checkIntervalMs).unref();
  }

  /**
   * True once the file was found unlinked; says so (`deleted`) the first time. Never throws: it runs
   * in a timer, where a throw ends the process. ENOENT and ENOTDIR (a step made a file of a directory
   * on the path) mean the path no longer names the file; any other error (EACCES, EIO) means it cannot
   * tell, and it says not deleted.
   */
  check(): boolean {
    if (this.#deleted) return true;
    let now: Stats | undefined;
    try {
      now = statSync(this.#path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') return false;
    }
    if (now !== undefined && now.dev === this.#dev && now.ino === this.#ino) return false;
    this.#deleted = true;
    this.report({ kind: 'deleted', path: this.#path });
    return true;
  }

  /** Closes the connection, restoring its file first when it was deleted; the connection is closed whatever fails. */
  close(db: BetterSqlite3.Database): void {
    clearInterval(this.#timer);
    let deleted = false;
    try {
      deleted = this.check();
    } finally {
      if (!deleted) db.close();
    }
    if (!deleted) return;
    // `valkyrie.db-…`, which the state directory's .gitignore matches: a copy left behind holds the
    // whole history, and a step's `git add -A` would commit it.
    const copy = `${this.#path}-restoring-${process.pid}`;
    try {
      makeDirectorySync(dirname(this.#path));
      rmSync(copy, { force: true });
      db.prepare('VACUUM INTO ?').run(copy);
    } catch (error) {
      db.close();
      removeQuietly(copy);
      this.report({ kind: 'not_restored', path: this.#path, reason: `could not copy it: ${String(error)}` });
      return;
    }
    // Closed before the copy takes the path: closing removes the -wal file at the path, which from
    // then on would be the copy's.
    db.close();
    try {
      linkSync(copy, this.#path);
    } catch (error) {
      const reason =
        (error as NodeJS.ErrnoException).code === 'EEXIST'
          ? `its path now holds another process's database (maybe another run's restored copy), left as it is; this process's runs are in ${copy}`
          : `${String(error)}; this process's runs are in ${copy}`;
      this.report({ kind: 'not_restored', path: this.#path, reason });
      return;
    }
    rmSync(copy, { force: true });
    this.report({ kind: 'restored', path: this.#path });
  }
}

/** A copy that could not be made may not be removable either (its directory is a file now). */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Nothing was written there, or nothing can be.
  }
}
