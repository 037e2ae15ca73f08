import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { durationHint, parseDuration } from '../core/duration.js';
import { foreignUrlScheme, isPostgresUrl } from '../core/store-target.js';
import type { Stores } from '../store/store.js';
import { UsageError } from './exit-codes.js';

/** Where local state lives: `--state-dir`, else $VALKYRIE_STATE_DIR, else `.valkyrie` in the workspace. */
export function stateDirectory(option: string | undefined, cwd: string): string {
  return resolve(cwd, option ?? process.env.VALKYRIE_STATE_DIR ?? '.valkyrie');
}

/**
 * Opens the store named by `--db` (or $VALKYRIE_DB): a `postgres://` URL — with an optional
 * `?schema=NAME` that Valkyrie strips and uses as its own schema — or a SQLite file path. By default,
 * `valkyrie.db` in the state directory. Each driver is loaded only when it is used. `create: false`,
 * for commands about runs that exist (runs, show, logs, cancel): the default SQLite file, when it does
 * not exist, is not created, and they see an empty store (nothing has run there); a file `--db` or
 * $VALKYRIE_DB names must exist.
 */
export async function openStores(
  db: string | undefined,
  stateDir: string,
  { create = true }: { readonly create?: boolean } = {},
): Promise<Stores> {
  const target = db ?? process.env.VALKYRIE_DB;
  if (target !== undefined) refuseOtherUrl(target, db === undefined ? 'VALKYRIE_DB' : '--db');
  if (target !== undefined && isPostgresUrl(target)) {
    const { openPostgresStores } = await import('../store/postgres/index.js');
    const { url, schema } = splitSchema(target);
    return openPostgresStores(url, schema === undefined ? {} : { schema });
  }
  const { openSqliteStores } = await import('../store/sqlite/index.js');
  const synchronous = sqliteSynchronous(process.env.VALKYRIE_SQLITE_SYNCHRONOUS);
  const busyTimeoutMs = sqliteBusyTimeout(process.env.VALKYRIE_SQLITE_BUSY_TIMEOUT);
  const path = target === undefined ? join(stateDir, 'valkyrie.db') : resolve(target);
  const missing = !create && !existsSync(path);
  // A file named on purpose that is not there is a mistake (a typo), not a place where nothing ran.
  if (missing && target !== undefined) {
    const source = db === undefined ? 'VALKYRIE_DB' : '--db';
    throw new UsageError(`${source}: there is no state database at ${path}`);
  }
  return openSqliteStores(missing ? ':memory:' : path, {
    ...(synchronous === undefined ? {} : { synchronous }),
    ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }),
  });
}

/** A `scheme://` value that is not Postgres's is refused (foreignUrlScheme). */
function refuseOtherUrl(target: string, source: string): void {
  const scheme = foreignUrlScheme(target);
  if (scheme === undefined) return;
  throw new UsageError(
    `${source}: ${JSON.stringify(redactPassword(target))} is a ${scheme}:// URL; expected postgres://USER@HOST/DB[?schema=NAME] (or postgresql://…) or a SQLite file path`,
  );
}

const redactPassword = (target: string) => target.replace(/:[^:@/]*@/, ':***@');

/** $VALKYRIE_SQLITE_BUSY_TIMEOUT: how long a write waits for another process's lock (default 5s). */
function sqliteBusyTimeout(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = parseDuration(value);
  if (ms !== undefined) return ms;
  throw new UsageError(
    `VALKYRIE_SQLITE_BUSY_TIMEOUT: expected ${durationHint}, received ${JSON.stringify(value)}`,
  );
}

/** $VALKYRIE_SQLITE_SYNCHRONOUS: `normal` (default; survives a process crash) or `full` (power loss too). */
function sqliteSynchronous(value: string | undefined): 'normal' | 'full' | undefined {
  if (value === undefined || value === '') return undefined;
  const lower = value.toLowerCase();
  if (lower === 'normal' || lower === 'full') return lower;
  throw new UsageError(
    `VALKYRIE_SQLITE_SYNCHRONOUS: expected normal or full, received ${JSON.stringify(value)}`,
  );
}

function splitSchema(target: string): { url: string; schema?: string } {
  let parsed: URL;
  try {
    parsed = new URL(target);
  } catch {
    throw new UsageError(`--db: not a valid URL: ${JSON.stringify(redactPassword(target))}`);
  }
  const schema = parsed.searchParams.get('schema') ?? undefined;
  parsed.searchParams.delete('schema');
  return { url: parsed.toString(), schema };
}
