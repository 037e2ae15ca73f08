import { messageOf } from '../../core/error-message.js';
import { isValkyrieError, ValkyrieError } from '../../core/errors.js';
import { Database } from './driver.js';

/** SQLite's extended result code (e.g. `SQLITE_CONSTRAINT_FOREIGNKEY`), or undefined for other errors. */
export function sqliteCode(error: unknown): string | undefined {
  return error instanceof Database.SqliteError ? error.code : undefined;
}

/** The file a connection works on and how long it waits for another process's lock, for messages. */
export interface StateFile {
  readonly path: string;
  readonly busyTimeoutMs: number;
}

/** SQLite's word that the file is not one of its databases, or that a page of it is damaged. */
export function isCorruption(code: string | undefined): boolean {
  return code !== undefined && (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT'));
}

/**
 * Wraps what SQLite (or a closed connection) threw into a catalog error, keeping the cause: a lock
 * held past the busy timeout is VK_STORE_LOCKED, a damaged file VK_STORE_CORRUPT, a full disk (a step
 * that prints a lot fills it with log lines) VK_STORE_FULL, the rest VK_STORE.
 * In each case the failed write's transaction was rolled back.
 */
export function toStoreError(action: string, error: unknown, file?: StateFile): ValkyrieError {
  if (isValkyrieError(error)) return error;
  const message = messageOf(error);
  const code = sqliteCode(error);
  const where = file?.path ?? 'the state database';
  if (code?.startsWith('SQLITE_BUSY')) {
    const waited = file === undefined ? 'the busy timeout' : `the busy timeout, ${file.busyTimeoutMs} ms`;
    return new ValkyrieError(
      'VK_STORE_LOCKED',
      `could not ${action}: another process kept ${where} locked for longer than ${waited}; ` +
        'nothing of this was written. Try again once it has finished, or wait longer with ' +
        'VALKYRIE_SQLITE_BUSY_TIMEOUT.',
      { cause: error },
    );
  }
  if (isCorruption(code)) {
    return new ValkyrieError(
      'VK_STORE_CORRUPT',
      `could not ${action}: ${where} is damaged (SQLite: ${message}); nothing of this was written. ` +
        'Restore it from a backup, or move it away to start with an empty state.',
      { cause: error },
    );
  }
  if (code === 'SQLITE_FULL') {
    return new ValkyrieError(
      'VK_STORE_FULL',
      `could not ${action}: the disk holding ${where} is full (SQLite: ${message}); nothing of this was ` +
        'written. Free some space there, then try again.',
      { cause: error },
    );
  }
  return new ValkyrieError('VK_STORE', `could not ${action}: ${message}`, { cause: error });
}
