import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import type { Stores } from '../../src/store/store.js';
import { helperAfterAll } from '../helper-hooks.js';
import type { StoresFactory } from './fixture.js';

/** The server the Postgres tests use; CI sets it, the default is the machines' local server. */
export const postgresUrl =
  process.env.VALKYRIE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Runs `use` on a plain connection, outside Valkyrie, to set a schema up or inspect it. */
export async function withRawClient<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Row counters of a table, from pg_stat_user_tables. */
export interface TableCounters {
  readonly inserted: number;
  readonly updated: number;
  /** Updates that wrote the new row version on the same page and no index entry (HOT). */
  readonly hotUpdated: number;
  readonly fetchedByIndex: number;
}

/**
 * The counters of `table` in `schema` once `arrived` holds of them (or after 100 tries 50 ms apart):
 * a backend reports its counts when it exits, so they reach the server a little after the stores
 * that made them are closed.
 */
export function tableCounters(
  schema: string,
  table: string,
  arrived: (counters: TableCounters) => boolean,
): Promise<TableCounters> {
  return withRawClient(async (client) => {
    for (let tries = 0; ; tries++) {
      await client.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await client.query<{
        n_tup_ins: string;
        n_tup_upd: string;
        n_tup_hot_upd: string;
        idx_tup_fetch: string;
      }>(
        `SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, idx_tup_fetch FROM pg_stat_user_tables
         WHERE schemaname = $1 AND relname = $2`,
        [schema, table],
      );
      const counters = {
        inserted: Number(rows[0]?.n_tup_ins),
        updated: Number(rows[0]?.n_tup_upd),
        hotUpdated: Number(rows[0]?.n_tup_hot_upd),
        fetchedByIndex: Number(rows[0]?.idx_tup_fetch),
      };
      if (arrived(counters) || tries === 100) return counters;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
}

/** Sequential scans of `table` and rows read from it (scanned or fetched by an index) while `work` ran on `client`. */
export async function readsDuring(
  client: pg.Client,
  schema: string,
  table: string,
  work: () => Promise<unknown>,
): Promise<{ readonly seqScans: number; readonly rowsRead: number }> {
  // This transaction's own counts: other sessions' reads of the table do not count.
  const count = async () => {
    const { rows } = await client.query<{ seq_scan: string; rows_read: string }>(
      `SELECT seq_scan, seq_tup_read + coalesce(idx_tup_fetch, 0) AS rows_read FROM pg_stat_xact_user_tables
       WHERE schemaname = $1 AND relname = $2`,
      [schema, table],
    );
    return { seqScans: Number(rows[0]?.seq_scan), rowsRead: Number(rows[0]?.rows_read) };
  };
  await client.query('BEGIN');
  const before = await count();
  await work();
  const after = await count();
  await client.query('COMMIT');
  return { seqScans: after.seqScans - before.seqScans, rowsRead: after.rowsRead - before.rowsRead };
}

/**
 * Creates `schema` with Valkyrie's tables, autovacuum off on queue_jobs: an ANALYZE after a test
 * fills the table would plan its statements again and hide the plan a test looks at.
 */
export async function queueSchemaWithoutAutovacuum(schema: string): Promise<void> {
  const stores = await openPostgresStores(postgresUrl, { schema });
  await stores.close();
  await withRawClient((client) =>
    client.query(`ALTER TABLE "${schema}".queue_jobs SET (autovacuum_enabled = false)`),
  );
}

/** Why the Postgres tests cannot run here, or undefined when a server answers. */
export const postgresSkipReason: string | undefined = await withRawClient((client) =>
  client.query('SELECT 1'),
)
  .then(() => undefined)
  .catch((error: unknown) => {
    const url = new URL(postgresUrl);
    if (url.password !== '') url.password = '***';
    const why = error instanceof Error ? error.message || error.name : String(error);
    return `no Postgres server answers at ${url.href} (${why}); set VALKYRIE_TEST_POSTGRES_URL to run them`;
  });

// CI provides a server (.ci/run sets this), so there a missing one fails the tests instead of
// skipping them unnoticed.
if (postgresSkipReason !== undefined && process.env.VALKYRIE_TEST_REQUIRE_POSTGRES === '1') {
  throw new Error(`VALKYRIE_TEST_REQUIRE_POSTGRES is set, but ${postgresSkipReason}`);
}

/** `describe` that runs only when a Postgres server answers, its title saying why when it does not. */
export function describeOnPostgres(title: string, body: () => void): void {
  describe.skipIf(postgresSkipReason !== undefined)(
    postgresSkipReason === undefined ? title : `${title} (skipped: ${postgresSkipReason})`,
    body,
  );
}

/** A schema name no other test uses; `dropSchema` removes it with everything in it. */
export function uniqueSchema(): string {
  return `vk_test_${randomBytes(6).toString('hex')}`;
}

/** The test server's URL with `?schema=` naming a new schema, as `--db` and VALKYRIE_DB take it. */
export function urlWithNewSchema(): { readonly url: string; readonly schema: string } {
  const schema = uniqueSchema();
  const url = new URL(postgresUrl);
  url.searchParams.set('schema', schema);
  return { url: url.toString(), schema };
}

export function dropSchema(schema: string): Promise<void> {
  return withRawClient(
    async (client) => void (await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)),
  );
}

/**
 * A test file's `--db` arguments for its servers, on a new schema at each call; its afterAll drops the
 * schemas. Call it at the file's top level before what registers the afterAll that kills those servers
 * (fleetsInOwnWorkspaces): the last registered afterAll runs first, so the servers are gone before
 * their schemas are.
 */
export function dbOnNewSchemas(): () => string[] {
  const schemas: string[] = [];
  afterAll(async () => {
    for (const schema of schemas) await dropSchema(schema);
  });
  return () => {
    const { url, schema } = urlWithNewSchema();
    schemas.push(schema);
    return ['--db', url];
  };
}

/**
 * One migrated schema per test file, emptied after each test: creating and dropping a schema per test
 * cost about ten times the test itself. Tests in a file run one at a time, so they never share rows.
 */
let fileSchema: Promise<string> | undefined;

export function migratedSchema(): Promise<string> {
  fileSchema ??= (async () => {
    const schema = uniqueSchema();
    const stores = await openPostgresStores(postgresUrl, { schema }).catch(async (error: unknown) => {
      await dropSchema(schema);
      throw error;
    });
    await stores.close();
    return schema;
  })();
  return fileSchema;
}

// After every test file; a no-op for files that never asked for a schema.
helperAfterAll(async () => {
  const schema = await fileSchema?.catch(() => undefined);
  fileSchema = undefined;
  if (schema !== undefined) await dropSchema(schema);
});

/** Fresh, empty stores on this file's schema; `cleanup` closes them and deletes every row. */
export const postgresFactory: StoresFactory = async (options = {}) => {
  const schema = await migratedSchema();
  const stores = await openPostgresStores(postgresUrl, { ...options, schema });
  const others: Stores[] = [];
  return {
    stores,
    async openAnother(anotherOptions = {}) {
      const other = await openPostgresStores(postgresUrl, { ...anotherOptions, schema });
      others.push(other);
      return other;
    },
    async cleanup() {
      for (const other of others) await other.close();
      await stores.close();
      await withRawClient((client) =>
        client.query(
          `SET search_path TO "${schema}";
           DELETE FROM log_lines; DELETE FROM steps; DELETE FROM jobs; DELETE FROM runs; DELETE FROM run_counters;
           DELETE FROM queue_jobs; DELETE FROM queue_stale_writes; UPDATE queue_counts SET queued = 0;
           DELETE FROM stale_writes; DELETE FROM concurrency_members;
           DELETE FROM api_tokens; DELETE FROM server_secrets; DELETE FROM runners; DELETE FROM queue_waiters;
           DELETE FROM bundle_chunks; DELETE FROM bundles`,
        ),
      );
    },
  };
};
