import { ValkyrieError } from '../../core/errors.js';

/** Where a store lives, for messages: never the URL itself, which may carry a password. */
export interface PostgresTarget {
  /** `host:port`, or the socket directory and port */
  readonly server: string;
  readonly database: string;
  /** The schema given in the options; undefined means the connection's default (usually `public`). */
  readonly schema: string | undefined;
}

/** Schema names go into the connection's startup options unquoted, so only plain identifiers pass. */
const schemaName = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Postgres's own schemas: Valkyrie's tables there would mix with the catalogs (`pg_` names are
 * reserved for them; `information_schema` would take them without complaint).
 */
export function isSystemSchema(schema: string): boolean {
  return schema === 'information_schema' || schema.startsWith('pg_');
}

/** Why `schema` cannot be Valkyrie's schema, or undefined when it can. */
export function schemaProblem(schema: string): string | undefined {
  if (!schemaName.test(schema)) {
    return `schema: expected a lowercase identifier (letters, digits, _; at most 63), received ${JSON.stringify(schema)}`;
  }
  if (isSystemSchema(schema)) {
    return `schema: ${schema} is a system schema of Postgres; give Valkyrie a schema of its own`;
  }
  return undefined;
}

/**
 * The URL query parameters node-postgres (pg 8, pg-connection-string 2) reads from a connection
 * string. It copies every parameter into its configuration and ignores the ones it does not know —
 * including libpq's `connect_timeout`, `target_session_attrs` and `keepalives` — so any other name
 * is refused rather than silently dropped. (`binary`, `replication` and `client_encoding` are read
 * too but left out: each would make the rows unreadable to Valkyrie.)
 */
export const passedParameters: readonly string[] = [
  'host',
  'port',
  'user',
  'password',
  'options',
  'application_name',
  'fallback_application_name',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'query_timeout',
  'ssl',
  'sslmode',
  'sslcert',
  'sslkey',
  'sslrootcert',
  'sslnegotiation',
  'uselibpqcompat',
];

/**
 * Why the query of a Postgres URL cannot be used, or undefined when it can: a parameter node-postgres
 * does not read, or one given twice (node-postgres would silently take the last). `own` names the
 * parameters the caller reads itself (the CLI's `schema`), checked for repeats only.
 */
export function urlParameterProblem(url: URL, own: readonly string[] = []): string | undefined {
  const seen = new Set<string>();
  for (const name of url.searchParams.keys()) {
    if (seen.has(name)) return `the Postgres URL gives the parameter ${name} more than once`;
    seen.add(name);
    if (own.includes(name) || passedParameters.includes(name)) continue;
    if (name === 'schema') {
      return "the Postgres URL's schema parameter is read by the valkyrie command only; give the schema as the store's schema option";
    }
    const known = [...own, ...passedParameters].join(', ');
    return `the Postgres URL has an unknown parameter ${JSON.stringify(name)} (node-postgres would ignore it); known: ${known}`;
  }
  return undefined;
}

export function describeTarget(url: string, schema: string | undefined): PostgresTarget {
  const badSchema = schema === undefined ? undefined : schemaProblem(schema);
  if (badSchema !== undefined) throw new ValkyrieError('VK_STORE', badSchema);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValkyrieError(
      'VK_STORE',
      'the Postgres URL is not valid (expected postgres://user@host:port/db)',
    );
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ValkyrieError(
      'VK_STORE',
      `the Postgres URL must start with postgres:// or postgresql://, received ${parsed.protocol}//…`,
    );
  }
  const badParameter = urlParameterProblem(parsed);
  if (badParameter !== undefined) throw new ValkyrieError('VK_STORE', badParameter);
  const query = parsed.searchParams;
  const env = process.env;
  const host = decodeURIComponent(parsed.hostname) || query.get('host') || env.PGHOST || 'localhost';
  const port = parsed.port || query.get('port') || env.PGPORT || '5432';
  const user = decodeURIComponent(parsed.username) || env.PGUSER;
  const database = decodeURIComponent(parsed.pathname.slice(1)) || env.PGDATABASE || user || '(default)';
  return { server: `${host}:${port}`, database, schema };
}

/** `database test on 127.0.0.1:5432, schema vk_1` — for error messages. */
export function targetText(target: PostgresTarget): string {
  const schema = target.schema === undefined ? '' : `, schema ${target.schema}`;
  return `database ${target.database} on ${target.server}${schema}`;
}
