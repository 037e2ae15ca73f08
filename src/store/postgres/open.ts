import pg from 'pg';
import { isValkyrieError, ValkyrieError } from '../../core/errors.js';
import type { QueueOptions } from '../queue.js';
import type { RunOwner } from '../recovery.js';
import { PostgresDatabase } from './database.js';
import { connectError, toStoreError } from './errors.js';
import { migrate } from './migrations.js';
import { ServerConnections } from './server-connections.js';
import { describeTarget, type PostgresTarget, targetText } from './target.js';
import type { UnansweredWatch } from './unanswered-calls.js';

export interface PostgresOptions {
  /**
   * A schema of Valkyrie's own, created when missing, e.g. to share a database with other programs or
   * to isolate tests. A lowercase identifier. It replaces any search_path the URL's `options` set.
   * Default: the first existing schema on the connection's search_path (usually `public`).
   */
  readonly schema?: string;
  /**
   * False for commands that only read: a schema that does not exist, or holds no Valkyrie tables, is
   * refused (VK_STORE_MISSING) instead of created, since a mistyped name is not an empty history.
   * A schema of an older Valkyrie is still migrated. Default: true.
   */
  readonly create?: boolean;
  /** Capacity, aging, idempotency window, clock of the queue store. */
  readonly queue?: QueueOptions;
  /**
   * The owner this store writes runs for (store/run-fence.ts): writes of a run recorded as owned by
   * another are refused. Default: this process. Tests open two stores on one schema as two owners.
   */
  readonly runOwner?: RunOwner;
  /** Told when Postgres leaves a write or read unanswered for a while, and when it answers again. */
  readonly unanswered?: UnansweredWatch;
  /**
   * How long closing waits for Postgres to answer the calls already made before it cuts the
   * connections and fails (PostgresDatabase.cut): a server that stopped answering would otherwise
   * keep close() waiting for ever. Default 30 s.
   */
  readonly closeGraceMs?: number;
}

/** Each control-plane replica holds this many connections at most; the engine's writes are short. */
const poolSize = 4;
/** An address that drops packets would otherwise stall the start for the OS's TCP timeout. */
const connectTimeoutMs = 10_000;

/**
 * Opens a pool on the database at `url` and migrates the schema to the current version. A server that
 * cannot be reached, or a schema written by a newer Valkyrie, is refused before anything is written,
 * and the pool is closed again.
 */
export async function openPostgresDatabase(
  url: string,
  options: PostgresOptions = {},
): Promise<PostgresDatabase> {
  const target = describeTarget(url, options.schema);
  // Every connection counted, so that closing can cut them all if the server stops answering.
  const connections = new ServerConnections();
  const pool = connections.track(
    new pg.Pool({
      max: poolSize,
      connectionTimeoutMillis: connectTimeoutMs,
      application_name: 'valkyrie',
      Client: connections.Client,
      ...connectionWithSchema(url, target.schema),
    }),
  );
  // An idle connection the server drops emits 'error' on the pool, which would crash the process when
  // unhandled; the pool has already discarded that connection and the next query opens a new one.
  pool.on('error', () => {});
  try {
    const client = await pool.connect().catch((error: unknown) => {
      throw connectError(`${target.server} (database ${target.database})`, error);
    });
    let broken = false;
    // As in GroupCommit: a checked-out client's dropped connection must not crash the process.
    const ignoreError = () => {};
    client.on('error', ignoreError);
    try {
      if (options.create === false) await assertStateExists(client, target);
      await migrate(client, target);
    } catch (error) {
      broken = true;
      throw error;
    } finally {
      client.removeListener('error', ignoreError);
      client.release(broken);
    }
    return new PostgresDatabase(pool, {
      server: target.server,
      connections,
      unanswered: options.unanswered,
    });
  } catch (error) {
    await pool.end().catch(() => {});
    throw isValkyrieError(error) ? error : toStoreError(`open Postgres ${targetText(target)}`, error);
  }
}

/**
 * The URL and startup options putting the connection's search_path on `schema`. node-postgres lets
 * options in the URL override the ones passed beside it, so a URL carrying `options` (a statement
 * timeout, say) would silently drop the schema: its options are moved out of the URL and the
 * search_path is appended to them, where a later `-c` wins.
 */
function connectionWithSchema(
  url: string,
  schema: string | undefined,
): { connectionString: string; options?: string } {
  if (schema === undefined) return { connectionString: url };
  const searchPath = `-c search_path=${schema}`;
  const parsed = new URL(url);
  const urlOptions = parsed.searchParams.get('options');
  if (urlOptions === null) return { connectionString: url, options: searchPath };
  parsed.searchParams.delete('options');
  return { connectionString: parsed.href, options: `${urlOptions} ${searchPath}` };
}

/**
 * Refuses a schema (the given one, else the connection's current one) that does not exist or has no
 * Valkyrie schema version, writing nothing. A search_path with no existing schema is left to migrate,
 * which names that case.
 */
async function assertStateExists(client: pg.ClientBase, target: PostgresTarget): Promise<void> {
  const { rows } = await client.query<{ schema: string | null; exists: boolean; valkyrie: boolean }>(
    `SELECT s.name AS schema, n.oid IS NOT NULL AS exists,
            EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid AND c.relname = 'valkyrie_schema') AS valkyrie
       FROM (SELECT coalesce($1::text, current_schema()) AS name) s
       LEFT JOIN pg_namespace n ON n.nspname = s.name`,
    [target.schema ?? null],
  );
  const row = rows[0];
  if (row === undefined || row.schema === null || row.valkyrie) return;
  const where = `Postgres database ${target.database} on ${target.server}`;
  throw new ValkyrieError(
    'VK_STORE_MISSING',
    row.exists
      ? `schema ${row.schema} of ${where} holds no Valkyrie state (nothing has run there)`
      : `there is no schema ${row.schema} in ${where}`,
  );
}
