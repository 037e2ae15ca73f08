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

/**
 * Wraps what Postgres or the pool threw into a catalog error, keeping the cause: a lost or refused
 * connection is VK_STORE_UNREACHABLE, as at open (connectError), anything else VK_STORE. The message
 * says what failed, not what to do: that depends on who reads it (`valkyrie run` names the run to
 * resume, a server retries by itself, a library caller decides).
 */
export function toStoreError(action: string, error: unknown): ValkyrieError {
  if (isValkyrieError(error)) return error;
  if (isConnectionLoss(error)) {
    return new ValkyrieError('VK_STORE_UNREACHABLE', `could not ${action}: ${connectionLossText(error)}`, {
      cause: error,
    });
  }
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

/** node-postgres's words for a connection that ended under a query, or could not be made in time. */
const lostConnection =
  /^Connection terminated|^timeout exceeded when trying to connect|^timeout expired$|^Client has encountered a connection error/;

/** Connection exceptions (class 08) and a server shutting down or starting up (57P01–57P03). */
const unavailableStates = /^08|^57P0[123]$/;

/** A failure of the connection rather than of the statement: the server is gone, or not back yet. */
export function isConnectionLoss(error: unknown): boolean {
  const state = pgCode(error);
  if (state !== undefined) return unavailableStates.test(state);
  const first = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  const code = systemCode(first);
  if (code !== undefined && socketCodes.has(code)) return true;
  return first instanceof Error && lostConnection.test(first.message);
}

const socketCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** `could not connect to Postgres at 127.0.0.1:5432: connection refused (…)`, or `lost the connection …`. */
function connectionLossText(error: unknown): string {
  const first = error instanceof AggregateError && error.errors.length > 0 ? error.errors[0] : error;
  const code = systemCode(first);
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === undefined || pgCode(error) !== undefined) {
    return `lost the connection to Postgres (${oneLine(first)})`;
  }
  const where = socketAddress(first);
  return `could not connect to Postgres${where === undefined ? '' : ` at ${where}`}: ${connectReason(error)}`;
}

/** `host:port` a socket error names (Node's `address` and `port`), if it names one. */
function socketAddress(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { address, port } = error as { address?: unknown; port?: unknown };
  if (typeof address !== 'string') return undefined;
  return typeof port === 'number' ? `${address}:${port}` : address;
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
