import { existsSync, realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { messageOf } from '../core/error-message.js';
import { ValkyrieError } from '../core/errors.js';
import {
  acquireServerLock,
  type ServerLock,
  serverLockFile,
  serverLockFiles,
} from '../store/sqlite/server-lock.js';
import type { Stores } from '../store/store.js';

/**
 * `valkyrie server`'s hold on its SQLite state file (store/sqlite/server-lock.ts), so that a second
 * server on the file is refused rather than started beside the first. Lifecycle: `beforeStore()`,
 * then `afterStore(stores)` once the store opened, then `release()` when the server has stopped (or
 * failed to start). Nothing on Postgres, where servers are replicas of one fleet.
 */
export class ServerStoreLock {
  #lock: ServerLock | undefined;

  readonly #file: string | undefined;

  /** `file`: the SQLite file the server is to use; undefined on Postgres. */
  constructor(file: string | undefined) {
    this.#file = file === undefined ? undefined : canonicalPath(file);
  }

  /** The lock files a start would create, for it to remove them again when it fails (removeNewState). */
  newPaths(): string[] {
    return this.#file === undefined ? [] : serverLockFiles(this.#file).filter((path) => !existsSync(path));
  }

  /**
   * Takes the lock before the store opens, so that a second server opens and writes nothing; not yet
   * when the file's directory is not there, which opening the store makes (and says why it cannot),
   * nor when the lock file cannot be made (afterStore() tries again).
   */
  beforeStore(): void {
    if (this.#file === undefined || !existsSync(dirname(this.#file))) return;
    try {
      this.#lock = take(this.#file);
    } catch (error) {
      if (isHeldByAnotherServer(error)) throw error;
    }
  }

  /**
   * Takes the lock if beforeStore() did not; held by another server, closes `stores` and throws. A
   * lock file that cannot be made where the store could open (a directory this user may not write,
   * holding files it may) is said in one line, and the server runs without it, as before the lock.
   */
  async afterStore(stores: Stores): Promise<void> {
    if (this.#file === undefined || this.#lock !== undefined) return;
    try {
      this.#lock = take(this.#file);
    } catch (error) {
      if (!isHeldByAnotherServer(error)) {
        process.stderr.write(
          `valkyrie server: warning: could not take the server lock ${serverLockFile(this.#file)} ` +
            `(${messageOf(error)}): a second server started on ${this.#file} would not be refused\n`,
        );
        return;
      }
      await stores.close();
      throw error;
    }
  }

  /** Idempotent. */
  release(): void {
    this.#lock?.release();
  }
}

/**
 * The file by its real path (through symbolic links), else its directory's: two servers that name
 * one file by two paths meet at one lock.
 */
function canonicalPath(file: string): string {
  for (const resolveOne of [
    () => realpathSync(file),
    () => join(realpathSync(dirname(file)), basename(file)),
  ]) {
    try {
      return resolveOne();
    } catch {
      // Not there (yet): the next, or the path as given.
    }
  }
  return file;
}

/** Whether a start failed because another server holds the file: what it found there is that one's. */
export function isHeldByAnotherServer(error: unknown): boolean {
  return error instanceof ValkyrieError && error.code === 'VK_STORE_IN_USE';
}

function take(file: string): ServerLock {
  const outcome = acquireServerLock(file);
  if (outcome.kind === 'acquired') return outcome.lock;
  const { holder } = outcome;
  const where = holder === undefined || holder.host === hostname() ? '' : ` on ${holder.host}`;
  const who =
    holder === undefined
      ? 'another valkyrie server, starting at this moment'
      : `another valkyrie server (pid ${holder.pid}${where}, since ${holder.since})`;
  throw new ValkyrieError(
    'VK_STORE_IN_USE',
    `the state database ${file} is in use by ${who}: one SQLite file serves one server. ` +
      'Stop that server first, or give this one its own --db or --data-dir; to run several servers ' +
      `for one fleet, use Postgres (--db postgres://…; docs/replicas.md) (lock: ${outcome.file})`,
  );
}
