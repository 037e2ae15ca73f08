import type pg from 'pg';
import { ValkyrieError } from '../../core/errors.js';
import { migrations } from './schema-migrations.js';
import { isSystemSchema, type PostgresTarget, targetText } from './target.js';

/** The version this code writes; a schema with a higher one was written by a newer Valkyrie. */
export const schemaVersion = migrations.length;

/** First key of the migration advisory lock ("Vk"); the second is a hash of the schema's name. */
const lockNamespace = 0x566b;

/**
 * Brings the target schema up to `schemaVersion`, creating it when missing. The version is read first
 * without writing anything, so a schema written by a newer Valkyrie is refused untouched; a migration
 * runs in one transaction under an advisory lock, and reads the version again once it holds the lock,
 * because another process may have migrated the schema in the meantime.
 */
export async function migrate(client: pg.ClientBase, target: PostgresTarget): Promise<void> {
  const schema = target.schema ?? (await currentSchema(client, target));
  const resolved = { ...target, schema };
  if (assertUsable(await readVersion(client, schema), resolved) === schemaVersion) return;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [lockNamespace, schema]);
    const current = assertUsable(await readVersion(client, schema), resolved);
    if (current < schemaVersion) await applyFrom(client, schema, current);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

async function applyFrom(client: pg.ClientBase, schema: string, current: number): Promise<void> {
  const name = quoteIdentifier(schema);
  // Only when missing: CREATE SCHEMA IF NOT EXISTS still demands the CREATE privilege on the database.
  const { rows } = await client.query<{ present: boolean }>(
    'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS present',
    [schema],
  );
  if (rows[0]?.present !== true) await client.query(`CREATE SCHEMA ${name}`);
  await client.query(`SET LOCAL search_path TO ${name}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS valkyrie_schema (
       singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
       version   integer NOT NULL
     )`,
  );
  for (const sql of migrations.slice(current)) await client.query(sql);
  await client.query(
    `INSERT INTO valkyrie_schema (version) VALUES ($1)
     ON CONFLICT (singleton) DO UPDATE SET version = excluded.version`,
    [schemaVersion],
  );
}

/**
 * 0 when the schema, or its version table, does not exist yet. Presence is read from the catalogs with
 * a query rather than `to_regclass`: that resolves names through the session's catalog cache without a
 * lock, and after waiting for the migration lock it can still say "absent" about a table that another
 * process has just committed.
 */
async function readVersion(client: pg.ClientBase, schema: string): Promise<number> {
  const { rows } = await client.query<{ present: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = $1 AND c.relname = 'valkyrie_schema') AS present`,
    [schema],
  );
  if (rows[0]?.present !== true) return 0;
  const version = await client.query<{ version: number }>(
    `SELECT version FROM ${quoteIdentifier(schema)}.valkyrie_schema`,
  );
  return version.rows[0]?.version ?? 0;
}

function assertUsable(version: number, target: PostgresTarget): number {
  if (version > schemaVersion) {
    throw new ValkyrieError(
      'VK_STORE_NEWER_SCHEMA',
      `Postgres ${targetText(target)} was written by a newer Valkyrie (schema version ${version}; this ` +
        `version knows up to ${schemaVersion}). Upgrade Valkyrie, or point it at another database or schema.`,
    );
  }
  return version;
}

async function currentSchema(client: pg.ClientBase, target: PostgresTarget): Promise<string> {
  const { rows } = await client.query<{ schema: string | null }>('SELECT current_schema() AS schema');
  const schema = rows[0]?.schema;
  if (typeof schema === 'string' && isSystemSchema(schema)) {
    throw new ValkyrieError(
      'VK_STORE',
      `Postgres ${targetText(target)}: the first schema on the search_path is ${schema}, a system ` +
        'schema of Postgres; give Valkyrie a schema of its own',
    );
  }
  if (typeof schema === 'string') return schema;
  throw new ValkyrieError(
    'VK_STORE',
    `Postgres ${targetText(target)}: no schema on the search_path exists to hold Valkyrie's tables; ` +
      'give Valkyrie a schema of its own',
  );
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
