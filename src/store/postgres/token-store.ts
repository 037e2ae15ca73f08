import type { StoredToken, TokenRecord, TokenRole, TokenStore } from '../tokens.js';
import { millis, type Writable } from './columns.js';
import type { PostgresDatabase, Statement } from './database.js';

interface TokenRow {
  id: string;
  role: TokenRole;
  name: string | null;
  hash: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

const columns = 'id, role, name, hash, created_at, expires_at, revoked_at';
const secretName = 'job-tokens';

const statements = {
  upsert: {
    name: 'vk_save_token',
    text: `INSERT INTO api_tokens (${columns}) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (id) DO UPDATE SET role = excluded.role, name = excluded.name, hash = excluded.hash,
             created_at = excluded.created_at, expires_at = excluded.expires_at, revoked_at = excluded.revoked_at`,
  },
  find: { name: 'vk_find_token', text: `SELECT ${columns} FROM api_tokens WHERE id = $1` },
  all: { name: 'vk_list_tokens', text: `SELECT ${columns} FROM api_tokens ORDER BY created_at, id` },
  revoke: {
    name: 'vk_revoke_token',
    text: 'UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2',
  },
  revoked: {
    name: 'vk_revoked_tokens',
    text: 'SELECT id FROM api_tokens WHERE id = ANY($1::text[]) AND revoked_at IS NOT NULL',
  },
  // One statement: the insert and the read agree even when two replicas start at once.
  secret: {
    name: 'vk_signing_secret',
    text: `WITH inserted AS (
             INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING value
           )
           SELECT value FROM inserted UNION ALL SELECT value FROM server_secrets WHERE name = $1`,
  },
} satisfies Record<string, Statement>;

/** TokenStore on the shared pool. */
export class PostgresTokenStore implements TokenStore {
  readonly #db: PostgresDatabase;

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  save(token: StoredToken): Promise<void> {
    return this.#db.write(`save token ${token.id}`, async (query) => {
      await query(statements.upsert, [
        token.id,
        token.role,
        token.name ?? null,
        token.hash,
        token.createdAt,
        token.expiresAt ?? null,
        token.revokedAt ?? null,
      ]);
    });
  }

  find(id: string): Promise<StoredToken | undefined> {
    return this.#db.read(`find token ${id}`, async (query) => {
      const { rows } = await query<TokenRow>(statements.find, [id]);
      const row = rows[0];
      return row === undefined ? undefined : { ...recordOf(row), hash: row.hash };
    });
  }

  list(): Promise<TokenRecord[]> {
    return this.#db.read('list tokens', async (query) => {
      const { rows } = await query<TokenRow>(statements.all, []);
      return rows.map(recordOf);
    });
  }

  revoke(id: string, at: number): Promise<boolean> {
    return this.#db.write(`revoke token ${id}`, async (query) => {
      const result = await query(statements.revoke, [at, id]);
      return (result.rowCount ?? 0) > 0;
    });
  }

  revoked(ids: readonly string[]): Promise<Set<string>> {
    return this.#db.read('read revoked tokens', async (query) => {
      if (ids.length === 0) return new Set<string>();
      const { rows } = await query<{ id: string }>(statements.revoked, [ids]);
      return new Set(rows.map((row) => row.id));
    });
  }

  signingSecret(candidate: string): Promise<string> {
    return this.#db.write('read the job-token secret', async (query) => {
      const { rows } = await query<{ value: string }>(statements.secret, [secretName, candidate]);
      return rows[0]?.value ?? candidate;
    });
  }
}

function recordOf(row: TokenRow): TokenRecord {
  const record: Writable<TokenRecord> = { id: row.id, role: row.role, createdAt: millis(row.created_at) };
  if (row.name !== null) record.name = row.name;
  if (row.expires_at !== null) record.expiresAt = millis(row.expires_at);
  if (row.revoked_at !== null) record.revokedAt = millis(row.revoked_at);
  return record;
}
