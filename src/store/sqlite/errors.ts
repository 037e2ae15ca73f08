import { isValkyrieError, ValkyrieError } from '../../core/errors.js';
import { Database } from './driver.js';

/** SQLite's extended result code (e.g. `SQLITE_CONSTRAINT_FOREIGNKEY`), or undefined for other errors. */
export function sqliteCode(error: unknown): string | undefined {
  return error instanceof Database.SqliteError ? error.code : undefined;
}

/** Wraps what SQLite (or a closed connection) threw into the catalog's VK_STORE, keeping the cause. */
export function toStoreError(action: string, error: unknown): ValkyrieError {
  if (isValkyrieError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = sqliteCode(error);
  const hint = code?.startsWith('SQLITE_BUSY')
    ? ' (another process held the database longer than the busy timeout)'
    : '';
  return new ValkyrieError('VK_STORE', `could not ${action}: ${message}${hint}`, { cause: error });
}
