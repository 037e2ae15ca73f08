import { tokenTtlProblem } from '../../server/schemas.js';
import { apiTokenId } from '../../server/tokens.js';
import type { TokenRecord } from '../../store/tokens.js';
import { ApiClient } from '../api-client.js';
import type { ApiClientFlags } from '../client-flags.js';
import { writeOrLoss } from '../closed-output.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { withServerFailures } from '../server-failure.js';
import { isoSeconds, textTable } from '../views/text-table.js';

export interface TokenCreateOptions extends ApiClientFlags {
  readonly role: 'admin' | 'submit' | 'read' | 'runner';
  readonly ttl?: string;
  readonly name?: string;
  readonly json?: boolean;
}

interface CreatedToken {
  readonly id: string;
  readonly token: string;
  readonly role: string;
  readonly expiresAt?: number;
}

/** Prints the new token alone on stdout (so `$(valkyrie token create …)` captures it); details on stderr. */
export function tokenCreateCommand(options: TokenCreateOptions): Promise<number> {
  return withServerFailures('admin', () => createToken(options));
}

async function createToken(options: TokenCreateOptions): Promise<number> {
  const ttlProblem = options.ttl === undefined ? undefined : tokenTtlProblem(options.ttl);
  if (ttlProblem !== undefined) throw new UsageError(`--ttl: ${ttlProblem}`);
  const client = ApiClient.fromFlags(options);
  const created = await client.request<CreatedToken>(
    'POST',
    '/api/v1/tokens',
    {
      role: options.role,
      ...(options.ttl === undefined ? {} : { ttl: options.ttl }),
      ...(options.name === undefined ? {} : { name: options.name }),
    },
    { 'body.role': '--role', 'body.ttl': '--ttl', 'body.name': '--name' },
  );
  const kind = created.role === 'runner' ? 'runner registration token' : `${created.role} token`;
  if (!options.json) {
    const expires =
      created.expiresAt === undefined ? 'never expires' : `expires ${isoSeconds(created.expiresAt)}`;
    process.stderr.write(`Created ${kind} ${created.id} (${expires}). It is shown this once:\n`);
  }
  const lost = await writeOrLoss(
    'stdout',
    options.json ? `${JSON.stringify(created)}\n` : `${created.token}\n`,
  );
  if (lost !== undefined) {
    // Its secret is shown only here, and this write lost it (`> /dev/full`, a reader gone): a token
    // no one holds, but which works, is revoked rather than left behind.
    await client.request('DELETE', `/api/v1/tokens/${encodeURIComponent(created.id)}`);
    process.stderr.write(
      `valkyrie: the new ${kind}'s secret could not be written to stdout (${lost.code}); ${created.id} is revoked\n`,
    );
  }
  return ExitCode.succeeded;
}

export interface TokenListOptions extends ApiClientFlags {
  readonly json?: boolean;
}

export function tokenListCommand(options: TokenListOptions): Promise<number> {
  return withServerFailures('admin', () => listTokens(options));
}

async function listTokens(options: TokenListOptions): Promise<number> {
  const client = ApiClient.fromFlags(options);
  const { tokens } = await client.request<{ tokens: TokenRecord[] }>('GET', '/api/v1/tokens');
  if (options.json) {
    process.stdout.write(`${JSON.stringify(tokens)}\n`);
    return ExitCode.succeeded;
  }
  const now = Date.now();
  const rows = tokens.map((token) => [
    token.id,
    token.role,
    token.name ?? '',
    isoSeconds(token.createdAt),
    token.expiresAt === undefined ? 'never' : isoSeconds(token.expiresAt),
    tokenStatus(token, now),
  ]);
  process.stdout.write(textTable([['ID', 'ROLE', 'NAME', 'CREATED', 'EXPIRES', 'STATUS'], ...rows]));
  return ExitCode.succeeded;
}

/** `given`: a token's id, or the whole token (`vkt.<id>.<secret>`), whose secret is never sent or printed. */
export function tokenRevokeCommand(given: string, options: ApiClientFlags): Promise<number> {
  const id = apiTokenId(given) ?? given;
  return withServerFailures('admin', async () => {
    const client = ApiClient.fromFlags(options);
    // Read first: once the last admin token is revoked, nothing can list tokens any more.
    // `caller`: the id of the token this command uses (a server before it sends none).
    const { tokens, caller } = await client.request<{ tokens: TokenRecord[]; caller?: string }>(
      'GET',
      '/api/v1/tokens',
    );
    await client.request('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
    // The server answers a second revoke as the first; "Revoked" would tell of a change that never was.
    const record = tokens.find((token) => token.id === id);
    const revokedAt = record?.revokedAt;
    process.stdout.write(
      revokedAt === undefined
        ? `Revoked token ${id}${credentialNote(record)}${ownNote(id, caller)}.\n`
        : `Token ${id} was already revoked (${isoSeconds(revokedAt)}); nothing changed.\n`,
    );
    if (isLastAdmin(id, tokens, Date.now()))
      process.stderr.write(
        'valkyrie: warning: that was the last active admin token: no one can create or revoke tokens until the server restarts, which makes one from VALKYRIE_ADMIN_TOKEN or, without it, generates one and prints it\n',
      );
    return ExitCode.succeeded;
  });
}

/**
 * What revoking a runner's credential did besides: a runner id is a hex string like any token's, and
 * an operator who revoked one from `token list` may not have known it took a runner off the fleet.
 * Not the token's name: that is the one the runner registered under, which a later `--name` changes.
 */
function credentialNote(token: TokenRecord | undefined): string {
  if (token?.role !== 'credential') return '';
  return `, the credential of runner ${token.id}: that runner is disconnected and cannot connect again`;
}

/** A command that revoked the token it runs with can make no request after it, nor can its script. */
function ownNote(id: string, caller: string | undefined): string {
  return id === caller ? ', the token this command used: it no longer works' : '';
}

function tokenStatus(token: TokenRecord, now: number): 'revoked' | 'expired' | 'active' {
  if (token.revokedAt !== undefined) return 'revoked';
  return token.expiresAt !== undefined && token.expiresAt <= now ? 'expired' : 'active';
}

/** Whether `id` is an active admin token and no other admin token is active. */
function isLastAdmin(id: string, tokens: readonly TokenRecord[], now: number): boolean {
  const active = tokens.filter((token) => token.role === 'admin' && tokenStatus(token, now) === 'active');
  return active.length === 1 && active[0]?.id === id;
}
