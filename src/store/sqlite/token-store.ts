import type Database from 'better-sqlite3';
import type { StoredToken, TokenRecord, TokenRole, TokenStore } from '../tokens.js';
import { nullable, type Writable } from './columns.js';
import type { GroupCommit } from './group-commit.js';

interface TokenRow {
  id: string;
  role: TokenRole;
  name: string | null;
  hash: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

const columns = 'id, role, name, hash, created_at, expires_at, revoked_at';
const secretName = 'job-tokens';

/** TokenStore on the shared connection. */
export class SqliteTokenStore implements TokenStore {
  readonly #upsert;
  readonly #find;
  readonly #all;
  readonly #revoke;
  readonly #exists;
  readonly #revoked;
  readonly #insertSecret;
  readonly #secret;

  constructor(
    db: Database.Database,
    private readonly commits: GroupCommit,
  ) {
    this.#upsert = db.prepare<[string, string, string | null, string, number, number | null, number | null]>(
      `INSERT OR REPLACE INTO api_tokens (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#find = db.prepare<[string], TokenRow>(`SELECT ${columns} FROM api_tokens WHERE id = ?`);
    this.#all = db.prepare<[], TokenRow>(`SELECT ${columns} FROM api_tokens ORDER BY created_at, rowid`);
    this.#revoke = db.prepare<[number, string]>(
      'UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?',
    );
    this.#exists = db.prepare<[string], { id: string }>('SELECT id FROM api_tokens WHERE id = ?');
    // The ids as one JSON array: a replica may hold more sessions than SQLite takes parameters.
    this.#revoked = db.prepare<[string], { id: string }>(
      'SELECT id FROM api_tokens WHERE revoked_at IS NOT NULL AND id IN (SELECT value FROM json_each(?))',
    );
    this.#insertSecret = db.prepare<[string, string]>(
      'INSERT OR IGNORE INTO server_secrets (name, value) VALUES (?, ?)',
    );
    this.#secret = db.prepare<[string], { value: string }>('SELECT value FROM server_secrets WHERE name = ?');
  }

  save(token: StoredToken): Promise<void> {
    return this.commits.write(`save token ${token.id}`, () => {
      this.#upsert.run(
        token.id,
        token.role,
        nullable(token.name),
        token.hash,
        token.createdAt,
        nullable(token.expiresAt),
        nullable(token.revokedAt),
      );
    });
  }

  find(id: string): Promise<StoredToken | undefined> {
    return this.commits.read(`find token ${id}`, () => {
      const row = this.#find.get(id);
      return row === undefined ? undefined : { ...recordOf(row), hash: row.hash };
    });
  }

  list(): Promise<TokenRecord[]> {
    return this.commits.read('list tokens', () => this.#all.all().map(recordOf));
  }

  revoke(id: string, at: number): Promise<boolean> {
    return this.commits.write(`revoke token ${id}`, () => {
      if (this.#exists.get(id) === undefined) return false;
      this.#revoke.run(at, id);
      return true;
    });
  }

  revoked(ids: readonly string[]): Promise<Set<string>> {
    return this.commits.read('read revoked tokens', () => {
      if (ids.length === 0) return new Set<string>();
      return new Set(this.#revoked.all(JSON.stringify(ids)).map((row) => row.id));
    });
  }

  signingSecret(candidate: string): Promise<string> {
    return this.commits.write('read the job-token secret', () => {
      this.#insertSecret.run(secretName, candidate);
      return this.#secret.get(secretName)?.value ?? candidate;
    });
  }
}

function recordOf(row: TokenRow): TokenRecord {
  const record: Writable<TokenRecord> = { id: row.id, role: row.role, createdAt: row.created_at };
  if (row.name !== null) record.name = row.name;
  if (row.expires_at !== null) record.expiresAt = row.expires_at;
  if (row.revoked_at !== null) record.revokedAt = row.revoked_at;
  return record;
}
