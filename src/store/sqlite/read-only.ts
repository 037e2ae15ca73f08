import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { ValkyrieError } from '../../core/errors.js';
import { Database, nativeBinding } from './driver.js';
import { sqliteCode } from './errors.js';
import { assertUsableSchema, schemaVersion } from './migrations.js';

/**
 * Opens an existing state file only to read it, for a command that only reads (runs, show, logs) where
 * this user may not write: neither migrated nor switched to WAL, and every write fails SQLITE_READONLY.
 * A WAL file is read in place when SQLite can (its -wal and -shm files exist, or its directory is
 * writable); otherwise — a read-only file system, another user's directory — from a copy in memory,
 * which is whole only while no -wal file holds commits (this build of SQLite has no `immutable=1`).
 */
export function openReadOnlyDatabase(path: string, busyTimeoutMs: number): BetterSqlite3.Database {
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs, nativeBinding });
    assertReadableSchema(db, path);
    return db;
  } catch (error) {
    db?.close();
    // CANTOPEN, READONLY_DIRECTORY, READONLY_CANTINIT: SQLite could neither open nor create the -shm file.
    const code = sqliteCode(error);
    const noShm = code === 'SQLITE_CANTOPEN' || code?.startsWith('SQLITE_READONLY_') === true;
    if (!noShm || existsSync(`${path}-wal`)) throw error;
  }
  const bytes = settledCopy(path);
  // Bytes 18 and 19 say WAL (2); the in-memory copy has no -shm to read one through, and no -wal exists.
  if (bytes.length > 19 && bytes[18] === 2 && bytes[19] === 2) bytes.fill(1, 18, 20);
  const copy = new Database(bytes, { readonly: true, nativeBinding });
  try {
    assertReadableSchema(copy, path);
    return copy;
  } catch (error) {
    copy.close();
    throw error;
  }
}

/** The most of a state file copied into memory to be read (a Buffer holds at most 2 GiB). */
const maxCopyBytes = 1024 ** 3;

/**
 * The file's bytes, read while nobody wrote it: a writer that starts meanwhile makes a -wal file and
 * may checkpoint into the file as it is read, so a read is kept only if the file is the same (inode,
 * size, modification time) after it as before, and still no -wal file exists; else it is read again.
 */
function settledCopy(path: string): Buffer {
  for (let tries = 0; tries < 3; tries++) {
    const before = statSync(path);
    if (before.size > maxCopyBytes)
      throw new ValkyrieError(
        'VK_STORE_UNWRITABLE',
        `${path} is too large (${before.size} bytes) to be read from a copy where SQLite cannot open it to read: ` +
          'read it where this user may write its directory, or with --db on a copy of it.',
      );
    const bytes = readFileSync(path);
    const after = statSync(path);
    const same = before.ino === after.ino && before.size === after.size && before.mtimeMs === after.mtimeMs;
    if (same && !existsSync(`${path}-wal`)) return bytes;
  }
  throw new ValkyrieError(
    'VK_STORE_UNWRITABLE',
    `${path} kept changing while it was read (another process writes it): try again, or read it where this user may write its directory.`,
  );
}

/** Read-only, an older schema cannot be brought up to date, and this version's queries need it. */
function assertReadableSchema(db: BetterSqlite3.Database, path: string): void {
  const version = assertUsableSchema(db, path);
  if (version === schemaVersion) return;
  throw new ValkyrieError(
    'VK_STORE_UNWRITABLE',
    `${path} was written by an older Valkyrie (schema version ${version}; this one reads ${schemaVersion}) ` +
      'and cannot be upgraded here, where it cannot be written: run a valkyrie command that writes ' +
      '(run, resume) on it once where it is writable.',
  );
}

/**
 * Why this user cannot use `path`: the file is not readable, or its nearest existing part — the file,
 * else its directory or the first ancestor that exists — is on a read-only file system or not writable
 * by this user (SQLite also writes the directory, for the -wal and -shm files). Undefined when nothing
 * stops it (as for root, whom permissions do not stop).
 */
export function unwritableCause(path: string): string | undefined {
  let target = path;
  while (!existsSync(target) && dirname(target) !== target) target = dirname(target);
  try {
    if (target === path) accessSync(path, constants.R_OK);
  } catch (error) {
    return accessProblem(error, path, 'read');
  }
  try {
    accessSync(target, constants.W_OK);
    if (target === path) accessSync(dirname(path), constants.W_OK);
    return undefined;
  } catch (error) {
    return accessProblem(error, target, 'write');
  }
}

function accessProblem(error: unknown, fallback: string, verb: string): string | undefined {
  const code = error instanceof Error && 'code' in error ? error.code : undefined;
  const where = error instanceof Error && 'path' in error ? String(error.path) : fallback;
  if (code === 'EROFS') return `${where} is on a read-only file system`;
  if (code === 'EACCES' || code === 'EPERM') return `permission denied: this user cannot ${verb} ${where}`;
  return undefined;
}
