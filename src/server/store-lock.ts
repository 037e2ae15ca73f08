import { existsSync, realpathSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { messageOf } from '../core/error-message.js';
import { ValkyrieError } from '../core/errors.js';
import { makeDirectory } from '../platform/make-directory.js';
import {
  acquireServerLock,
  type ServerLock,
  type ServerLockHolder,
  serverLockFile,
  serverLockFiles,
} from '../store/sqlite/server-lock.js';
import type { Stores } from '../store/store.js';

/** Where a server keeps workspace bundles as files, when its store keeps none (SQLite). */
export function bundleDirectory(dataDir: string): string {
  return join(dataDir, 'bundles');
}

/**
 * A server's hold on what it alone may serve (store/sqlite/server-lock.ts): its SQLite state file,
 * and the directory of its data directory where it keeps workspace bundles as files. A second server
 * on either is refused (VK_STORE_IN_USE) rather than started beside the first: on one state file the
 * two would take each other's runs over, and on one bundle directory each one's retention sweep would
 * remove the bundles of the other's runs, which it does not know. Nothing on Postgres, where servers
 * are replicas of one fleet and bundles are kept in the database, nor for a SQLite store in memory.
 *
 * Lifecycle: `beforeStore()` (`valkyrie server`, so that a start refused opens and makes nothing),
 * then `hold(stores)` once the store is open (ValkyrieServer.start, which takes what is not held
 * yet), then `release()` once the server has stopped or failed to start.
 */
export class ServerStoreLock {
  #stateLock: ServerLock | undefined;
  #bundleLock: ServerLock | undefined;

  readonly #file: string | undefined;
  readonly #dataDir: string;

  /** `file`: the SQLite file the server is to use; undefined on Postgres (or in memory): no lock. */
  constructor(file: string | undefined, dataDir: string) {
    this.#file = file === undefined ? undefined : canonicalPath(file);
    this.#dataDir = dataDir;
  }

  /**
   * What beforeStore() and hold() would create, for a start that fails to remove again
   * (removeNewState): nothing on Postgres, whose bundles are not files.
   */
  newPaths(): string[] {
    if (this.#file === undefined) return [];
    const bundles = bundleDirectory(this.#dataDir);
    return [
      ...serverLockFiles(serverLockFile(this.#file)),
      ...(existsSync(bundles) ? serverLockFiles(this.#bundleLockFile()) : [bundles]),
    ].filter((path) => !existsSync(path));
  }

  /**
   * Takes the locks before the store opens, so that a second server opens and writes nothing; not yet
   * where the directory is not there, which opening the store (or hold()) makes, nor where the lock
   * file cannot be made (hold() tries again). A SQLite store keeps no bundles: they are files here.
   * Refused on the bundle directory, it lets the state file's lock go, with the files it made for it.
   */
  beforeStore(): void {
    if (this.#file === undefined) return;
    const stateLockFile = serverLockFile(this.#file);
    const made = serverLockFiles(stateLockFile).filter((path) => !existsSync(path));
    if (existsSync(dirname(this.#file)))
      this.#stateLock ??= takeUnlessUnmade(stateLockFile, this.#stateRefusal);
    if (!existsSync(bundleDirectory(this.#dataDir))) return;
    try {
      this.#bundleLock ??= takeUnlessUnmade(this.#bundleLockFile(), this.#bundleRefusal);
    } catch (error) {
      if (this.#stateLock !== undefined) {
        this.#stateLock.release();
        this.#stateLock = undefined;
        for (const path of made) rmSync(path, { force: true });
      }
      throw error;
    }
  }

  /**
   * Takes what beforeStore() did not: throws VK_STORE_IN_USE when another server holds it. A lock file
   * that cannot be made where the store could open (a directory this user may not write, holding files
   * it may) is told to `notice` in one line, and the server runs without it, as before the lock.
   */
  async hold(stores: Stores, notice: (line: string) => void): Promise<void> {
    const file = this.#file;
    if (file !== undefined && this.#stateLock === undefined) {
      const lockFile = serverLockFile(file);
      const unmade = (error: unknown) => notice(cannotTake(lockFile, error, file));
      this.#stateLock = takeUnlessUnmade(lockFile, this.#stateRefusal, unmade);
    }
    if (file === undefined || stores.bundles !== undefined || this.#bundleLock !== undefined) return;
    const lockFile = this.#bundleLockFile();
    const unmade = (error: unknown) =>
      notice(cannotTake(lockFile, error, `the data directory ${this.#dataDir}`));
    try {
      await makeDirectory(bundleDirectory(this.#dataDir));
    } catch (error) {
      unmade(error);
      return;
    }
    this.#bundleLock = takeUnlessUnmade(lockFile, this.#bundleRefusal, unmade);
  }

  /** Whether hold() took the bundle directory: no other server uploads into it while this one runs. */
  holdsBundleDirectory(): boolean {
    return this.#bundleLock !== undefined;
  }

  /** Idempotent. */
  release(): void {
    this.#stateLock?.release();
    this.#bundleLock?.release();
  }

  #bundleLockFile(): string {
    return join(bundleDirectory(this.#dataDir), 'server.lock');
  }

  readonly #stateRefusal = (holder: string, lockFile: string) =>
    `the state database ${this.#file} is in use by ${holder}: one SQLite file serves one server. ` +
    'Stop that server first, or give this one its own --db or --data-dir; to run several servers ' +
    `for one fleet, use Postgres (--db postgres://…; docs/replicas.md) (lock: ${lockFile})`;

  readonly #bundleRefusal = (holder: string, lockFile: string) =>
    `the data directory ${this.#dataDir} is in use by ${holder}, which keeps its workspace bundles ` +
    "there: one data directory serves one SQLite server, as each one's bundle retention would remove " +
    "bundles the other's runs still need. Give this one its own --data-dir; to run several servers " +
    `for one fleet, use Postgres (--db postgres://…; docs/replicas.md), which keeps bundles in the database (lock: ${lockFile})`;
}

/** The refusal's text, from who holds the lock and the lock file. */
type Refusal = (holder: string, lockFile: string) => string;

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

/**
 * The lock, or undefined when its file cannot be made (told to `unmade`); VK_STORE_IN_USE when another
 * server holds it.
 */
function takeUnlessUnmade(
  lockFile: string,
  refusal: Refusal,
  unmade: (error: unknown) => void = () => {},
): ServerLock | undefined {
  try {
    return take(lockFile, refusal);
  } catch (error) {
    if (isHeldByAnotherServer(error)) throw error;
    unmade(error);
    return undefined;
  }
}

function cannotTake(lockFile: string, error: unknown, what: string): string {
  return (
    `warning: could not take the server lock ${lockFile} (${messageOf(error)}): ` +
    `a second server started on ${what} would not be refused`
  );
}

function take(lockFile: string, refusal: Refusal): ServerLock {
  const outcome = acquireServerLock(lockFile);
  if (outcome.kind === 'acquired') return outcome.lock;
  throw new ValkyrieError('VK_STORE_IN_USE', refusal(holderText(outcome.holder), outcome.file));
}

function holderText(holder: ServerLockHolder | undefined): string {
  if (holder === undefined) return 'another valkyrie server, starting at this moment';
  const where = holder.host === hostname() ? '' : ` on ${holder.host}`;
  return `another valkyrie server (pid ${holder.pid}${where}, since ${holder.since})`;
}
