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

export function describeTarget(url: string, schema: string | undefined): PostgresTarget {
  if (schema !== undefined && !schemaName.test(schema)) {
    throw new ValkyrieError(
      'VK_STORE',
      `schema: expected a lowercase identifier (letters, digits, _; at most 63), received ${JSON.stringify(schema)}`,
    );
  }
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
