/**
 * Who a token speaks for. `admin`, `submit` and `read` are API roles; `runner` is a runner
 * registration token (exchanged once per runner for a credential); `credential` is that per-runner
 * credential, good only for the runner protocol endpoints.
 */
export const tokenRoles = ['admin', 'submit', 'read', 'runner', 'credential'] as const;
export type TokenRole = (typeof tokenRoles)[number];

/** A token as listed: never its secret, nor the secret's hash. */
export interface TokenRecord {
  /** Public, unique; the token's text starts with it, so a presented token names its own row. */
  readonly id: string;
  readonly role: TokenRole;
  readonly name?: string;
  /** epoch milliseconds */
  readonly createdAt: number;
  /** epoch milliseconds; absent: it never expires */
  readonly expiresAt?: number;
  /** epoch milliseconds; a revoked token stays listed so the audit trail keeps it. */
  readonly revokedAt?: number;
}

/** A token as stored: the sha256 of its full text (hex), never the text itself. */
export interface StoredToken extends TokenRecord {
  readonly hash: string;
}

/**
 * API tokens, runner registration tokens and runner credentials, stored hashed; and the server's
 * signing secret for per-job tokens. Calls are applied in the order they are made; reads see every
 * write made before them. Checking a presented token (hash comparison, expiry, revocation) is the
 * caller's: the store only keeps rows.
 */
export interface TokenStore {
  /** Inserts the token, or replaces the row with its id (used for the admin token from the environment). */
  save(token: StoredToken): Promise<void>;
  /** The row with this id, revoked or expired ones included; undefined when there is none. */
  find(id: string): Promise<StoredToken | undefined>;
  /** Every token, oldest first, without hashes. */
  list(): Promise<TokenRecord[]>;
  /** Marks it revoked at `at`. False when no such token exists; revoking twice keeps the first time. */
  revoke(id: string, at: number): Promise<boolean>;
  /**
   * Which of `ids` are revoked, in one read (unknown ids are left out): a replica asks it of the
   * credentials it holds sessions of, to end those revoked on another replica.
   */
  revoked(ids: readonly string[]): Promise<Set<string>>;
  /**
   * The secret that signs per-job tokens. The first call on a fresh store keeps `candidate`; every later
   * call, from any process on the same store, returns that first value, so replicas agree.
   */
  signingSecret(candidate: string): Promise<string>;
}
