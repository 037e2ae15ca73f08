import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { counted } from '../core/counted.js';
import { ValkyrieError } from '../core/errors.js';
import { sha256Hex } from '../core/sha256.js';
import { tokenTextProblem } from '../core/token-text.js';
import type { StoredToken, TokenRecord, TokenRole, TokenStore } from '../store/tokens.js';
import { ApiError } from './api-error.js';

/** Who a request speaks for, once its bearer token checked out. */
export type Principal =
  | {
      readonly kind: 'token';
      readonly id: string;
      readonly role: TokenRole;
      readonly name?: string;
      readonly expiresAt?: number;
    }
  /** A per-job token: this job's routes only; `bundle` is the run's workspace bundle, if any. */
  | { readonly kind: 'job'; readonly jobId: string; readonly bundle?: string; readonly expiresAt: number };

export interface NewToken {
  readonly role: TokenRole;
  readonly ttlMs?: number;
  readonly name?: string;
}

/** The id of the admin token taken from VALKYRIE_ADMIN_TOKEN, whatever that token's text. */
export const environmentAdminId = 'admin-env';

const apiPrefix = 'vkt.';
const jobPrefix = 'vkj.';

/**
 * Issues and checks every kind of bearer token.
 *
 * API tokens, registration tokens and runner credentials are `vkt.<id>.<secret>` with a 256-bit random
 * secret; the store keeps only sha256 of the whole text. A fast hash is enough here: bcrypt and its
 * kin slow down guessing low-entropy passwords, and nobody guesses 256 random bits, while a slow hash
 * would cost every API request tens of milliseconds. The presented token names its row by id and the
 * hashes are compared in constant time.
 *
 * Job tokens are not stored: `vkj.<payload>.<hmac>` where the payload holds the job id, the run's
 * bundle and an expiry, signed with a secret kept in the store so every replica accepts the others'.
 * Issuing one costs no store write on the lease path, which has a sub-millisecond budget.
 */
export class TokenAuthority {
  private constructor(
    private readonly store: TokenStore,
    private readonly clock: Clock,
    private readonly secret: Buffer,
  ) {}

  static async open(store: TokenStore, clock: Clock): Promise<TokenAuthority> {
    const secret = await store.signingSecret(randomBytes(32).toString('base64url'));
    return new TokenAuthority(store, clock, Buffer.from(secret, 'base64url'));
  }

  /**
   * The first admin token. With `fromEnvironment`, that text becomes the admin token (replacing an
   * earlier one from the environment). Otherwise, when no usable admin token exists, one is created
   * and its text returned so the caller can print it once; undefined when nothing was created.
   * Throws VK_SERVER_START, storing nothing, for a text no request could log in with
   * (adminTokenProblem): a server started with it would have no usable admin token and not say so.
   */
  async bootstrapAdmin(fromEnvironment: string | undefined): Promise<string | undefined> {
    const now = this.clock.now();
    if (fromEnvironment !== undefined && fromEnvironment !== '') {
      checkAdminToken(fromEnvironment);
      await this.store.save({
        id: environmentAdminId,
        role: 'admin',
        name: 'VALKYRIE_ADMIN_TOKEN',
        hash: sha256Hex(fromEnvironment),
        createdAt: now,
      });
      return undefined;
    }
    const tokens = await this.store.list();
    if (tokens.some((token) => token.role === 'admin' && usable(token, now))) return undefined;
    const { token } = await this.create({ role: 'admin', name: 'first admin' });
    return token;
  }

  /**
   * Takes back a first admin token bootstrapAdmin made, by its text, when the server that made it
   * fails to start (its port taken) before printing it: revoked, so that the next start makes and
   * prints another instead of finding this one, which nobody saw.
   */
  async withdrawBootstrapped(token: string): Promise<void> {
    const id = apiTokenId(token);
    if (id !== undefined) await this.store.revoke(id, this.clock.now());
  }

  /** Stores a new token and returns its text, which is never available again. */
  async create(request: NewToken): Promise<{ record: TokenRecord; token: string }> {
    const id = randomBytes(6).toString('hex');
    const token = `${apiPrefix}${id}.${randomBytes(32).toString('base64url')}`;
    const createdAt = this.clock.now();
    const record: TokenRecord = {
      id,
      role: request.role,
      createdAt,
      ...(request.name === undefined ? {} : { name: request.name }),
      ...(request.ttlMs === undefined ? {} : { expiresAt: createdAt + request.ttlMs }),
    };
    await this.store.save({ ...record, hash: sha256Hex(token) });
    return { record, token };
  }

  list(): Promise<TokenRecord[]> {
    return this.store.list();
  }

  async revoke(id: string): Promise<void> {
    if (!(await this.store.revoke(id, this.clock.now())))
      throw new ApiError(404, 'VK_TOKEN_NOT_FOUND', `no token with id ${JSON.stringify(id)}`, {
        path: 'params.id',
      });
  }

  /**
   * The principal of an `Authorization: Bearer …` header; 401 when it is missing or not valid now.
   *
   * A `vkt.` token names its row by id; one that does not match that row (none exists, or its hash
   * differs) is still compared with the environment's admin token, whose text may take the same
   * form (`VALKYRIE_ADMIN_TOKEN=vkt.<id>.<secret>`) while its row's id is `admin-env`. Every miss
   * thus reads both rows whether or not the named one exists, so the answer's time does not tell.
   */
  async authenticate(header: string | undefined): Promise<Principal> {
    const token = bearer(header);
    if (token.startsWith(jobPrefix)) return this.checkJobToken(token);
    const presented = Buffer.from(sha256Hex(token), 'hex');
    const id = apiTokenId(token);
    let row = id === undefined || id === environmentAdminId ? undefined : await this.store.find(id);
    if (!hashMatches(row, presented)) {
      row = await this.store.find(environmentAdminId);
      if (!hashMatches(row, presented)) row = undefined;
    }
    if (row === undefined) throw unauthorized('the token is not known');
    if (row.revokedAt !== undefined) throw unauthorized(`token ${row.id} was revoked`);
    if (!usable(row, this.clock.now())) throw unauthorized(`token ${row.id} has expired`);
    return {
      kind: 'token',
      id: row.id,
      role: row.role,
      ...(row.name === undefined ? {} : { name: row.name }),
      ...(row.expiresAt === undefined ? {} : { expiresAt: row.expiresAt }),
    };
  }

  issueJobToken(jobId: string, ttlMs: number, bundle?: string): string {
    const claims: JobClaims = { j: jobId, e: this.clock.now() + ttlMs, ...(bundle ? { b: bundle } : {}) };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${jobPrefix}${payload}.${this.sign(payload)}`;
  }

  private checkJobToken(token: string): Principal {
    const [payload = '', mac = '', ...more] = token.slice(jobPrefix.length).split('.');
    // The MAC compared as text, not decoded: base64url decoding ignores the last character's spare
    // bits and stray characters, so other spellings of the token would pass too.
    const expected = Buffer.from(this.sign(payload));
    const presented = Buffer.from(mac);
    if (more.length > 0 || expected.length !== presented.length || !timingSafeEqual(expected, presented))
      throw unauthorized('the job token is not valid');
    const claims = parseClaims(payload);
    if (claims === undefined) throw unauthorized('the job token is not valid');
    if (claims.e <= this.clock.now()) throw unauthorized(`the job token for ${claims.j} has expired`);
    return { kind: 'job', jobId: claims.j, expiresAt: claims.e, ...(claims.b ? { bundle: claims.b } : {}) };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(`valkyrie-job-token:${payload}`).digest('base64url');
  }
}

/** The id a `vkt.<id>.<secret>` token names its row by; undefined for any other text. */
export function apiTokenId(token: string): string | undefined {
  if (!token.startsWith(apiPrefix)) return undefined;
  const id = token.slice(apiPrefix.length).split('.', 1)[0];
  return id === '' ? undefined : id;
}

/** An admin token set by hand opens everything: at least this many characters. */
export const minAdminTokenLength = 16;

/** Throws VK_SERVER_START for a VALKYRIE_ADMIN_TOKEN no request could log in with (adminTokenProblem). */
export function checkAdminToken(text: string): void {
  const problem = adminTokenProblem(text);
  if (problem !== undefined) throw new ValkyrieError('VK_SERVER_START', `VALKYRIE_ADMIN_TOKEN ${problem}`);
}

/**
 * Why `text` can never authenticate as the admin token, or undefined when it can: one no request can
 * carry as set (tokenTextProblem); a `vkj.` text, checked as a job token, never compared with the
 * stored tokens; and a short one, which could be guessed. The text itself is never shown.
 */
export function adminTokenProblem(text: string): string | undefined {
  if (text.startsWith(jobPrefix))
    return `starts with "${jobPrefix}", the form of a job token: a request presenting it is checked as a job token and never logs in; choose another text`;
  const problem = tokenTextProblem(text);
  if (problem !== undefined) return problem;
  return text.length < minAdminTokenLength
    ? `is ${counted(text.length, 'character')} long: an admin token needs at least ${minAdminTokenLength}, so that it cannot be guessed (openssl rand -hex 32 makes one)`
    : undefined;
}

interface JobClaims {
  readonly j: string;
  readonly e: number;
  readonly b?: string;
}

function parseClaims(payload: string): JobClaims | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const { j, e, b } = value as Record<string, unknown>;
    if (typeof j !== 'string' || typeof e !== 'number') return undefined;
    return { j, e, ...(typeof b === 'string' ? { b } : {}) };
  } catch {
    return undefined;
  }
}

function bearer(header: string | undefined): string {
  if (header === undefined || header === '')
    throw unauthorized('no token: send Authorization: Bearer <token>');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw unauthorized('the Authorization header must be "Bearer <token>"');
  return match[1];
}

/** Compares even when no row exists, so the answer takes as long either way. */
function hashMatches(row: StoredToken | undefined, presented: Buffer): boolean {
  const expected = Buffer.from(row?.hash ?? '0'.repeat(64), 'hex');
  const equal = expected.length === presented.length && timingSafeEqual(expected, presented);
  return equal && row !== undefined;
}

function usable(token: TokenRecord, now: number): boolean {
  return token.revokedAt === undefined && (token.expiresAt === undefined || token.expiresAt > now);
}

function unauthorized(message: string): ApiError {
  return new ApiError(401, 'VK_UNAUTHORIZED', message);
}
