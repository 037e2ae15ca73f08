import pg from 'pg';
import { isValkyrieError, ValkyrieError } from '../../core/errors.js';

/** SQLSTATE codes the stores turn into catalog errors. */
export const sqlState = {
  foreignKeyViolation: '23503',
  uniqueViolation: '23505',
  duplicateTable: '42P07',
} as const;

/** Postgres's SQLSTATE (e.g. `23503`), or undefined for errors that did not come from the server. */
export function pgCode(error: unknown): string | undefined {
  return error instanceof pg.DatabaseError ? error.code : undefined;
}

/** The key value a constraint error names in its detail (`Key (id)=(7.0) already exists.`). */
export function violatingKey(error: unknown): string | undefined {
  if (!(error instanceof pg.DatabaseError) || error.detail === undefined) return undefined;
  return /\)=\((.*)\) /.exec(error.detail)?.[1];
}

/** Wraps what Postgres or the pool threw into the catalog's VK_STORE, keeping the cause. */
export function toStoreError(action: string, error: unknown): ValkyrieError {
  if (isValkyrieError(error)) return error;
  const hint =
    pgCode(error) === sqlState.duplicateTable
      ? " (the schema holds another program's tables; give Valkyrie a schema of its own)"
      : '';
  return new ValkyrieError('VK_STORE', `could not ${action}: ${oneLine(error)}${hint}`, { cause: error });
}

/**
 * A failed connection attempt, named by server and database only: the URL may carry a password.
 * VK_STORE_UNREACHABLE when no server answered (worth trying again later); VK_STORE when one answered
 * and said no (unknown database or role, bad password: the URL needs fixing).
 */
export function connectError(where: string, error: unknown): ValkyrieError {
  const code = pgCode(error) === undefined ? 'VK_STORE_UNREACHABLE' : 'VK_STORE';
  return new ValkyrieError(code, `could not connect to Postgres at ${where}: ${connectReason(error)}`, {
    cause: error,
  });
}

function connectReason(error: unknown): string {
  // With several addresses for a host, Node reports an AggregateError whose own message is empty.
  const first = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  switch (systemCode(first)) {
    case 'ECONNREFUSED':
      return 'connection refused (is the server running and listening there?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
      return 'timed out';
    default:
      return oneLine(first);
  }
}

function systemCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message || systemCode(error) || error.name : String(error);
  return text.replace(/\s+/g, ' ').trim();
}
