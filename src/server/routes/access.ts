import * as z from 'zod';
import type { ApiContext } from '../context.js';
import { defineRoute, type Route } from '../route.js';
import {
  errorSchema,
  idParams,
  tokenCreatedSchema,
  tokenCreateSchema,
  tokenSchema,
  tokenTtlMs,
} from '../schemas.js';

/** Registration tokens expire; a day is enough to bring a fleet of runners up. */
const defaultRegistrationTtlMs = 24 * 3_600_000;

/** Tokens: create, list and revoke (admin only); a runner may revoke its own credential. */
export function accessRoutes(context: ApiContext): Route[] {
  const { authority } = context;
  /** Revokes token `id`; a runner's credential also ends its sessions and takes it off the runner list. */
  const revoke = async (id: string) => {
    await authority.revoke(id);
    // Before anything else is awaited: from the revocation on, no offer goes to the runner here.
    context.revocations.revoked(id);
    // A runner's id is its credential's: with the credential gone, it can never come back as itself.
    await context.runners.forget(id);
  };
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/tokens',
      operationId: 'createToken',
      summary: 'Create a token; its secret is in this response only',
      access: 'admin',
      body: tokenCreateSchema,
      responses: {
        201: { description: 'the new token', schema: tokenCreatedSchema },
        400: { description: 'VK_INVALID_REQUEST', schema: errorSchema },
      },
      async handle({ body }) {
        const ttlMs =
          body.ttl === undefined
            ? body.role === 'runner'
              ? defaultRegistrationTtlMs
              : undefined
            : tokenTtlMs(body.ttl);
        const { record, token } = await authority.create({
          role: body.role,
          ...(ttlMs === undefined ? {} : { ttlMs }),
          ...(body.name === undefined ? {} : { name: body.name }),
        });
        const expires = record.expiresAt === undefined ? {} : { expiresAt: record.expiresAt };
        return { status: 201, body: { id: record.id, token, role: record.role, ...expires } };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/tokens',
      operationId: 'listTokens',
      summary: 'List tokens (never their secrets), revoked ones included',
      access: 'admin',
      responses: {
        200: {
          description:
            'tokens, and caller: the id of the token this request was made with (admin-env for VALKYRIE_ADMIN_TOKEN), so a client can tell when it revokes its own',
          schema: z.object({ tokens: z.array(tokenSchema), caller: z.string().optional() }),
        },
      },
      async handle({ principal }) {
        const caller = principal?.kind === 'token' ? { caller: principal.id } : {};
        return { status: 200, body: { tokens: await authority.list(), ...caller } };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/tokens/:id',
      operationId: 'revokeToken',
      summary:
        "Revoke a token: it is refused from now on (401); a runner's credential also ends the runner's protocol sessions (WebSocket close 4401, long-poll 401, VK_CREDENTIAL_REVOKED; on another replica within its runner sync interval) and deregisters the runner (it leaves the runner list); event and log streams open with it end with event: error (VK_UNAUTHORIZED), on another replica within its runner sync interval",
      access: 'admin',
      params: idParams,
      responses: {
        204: { description: 'revoked (also when it already was)' },
        404: { description: 'VK_TOKEN_NOT_FOUND', schema: errorSchema },
      },
      async handle({ params }) {
        await revoke(params.id);
        return { status: 204 };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/runner/credential',
      operationId: 'revokeOwnCredential',
      summary:
        'A runner revokes the credential it calls with, as one that takes one job (valkyrie runner --ephemeral) does once done: as DELETE /api/v1/tokens/:id of it, its sessions end and it leaves the runner list, and nothing can connect as that runner again',
      access: 'credential',
      responses: {
        204: { description: 'revoked' },
      },
      async handle({ principal }) {
        const id = principal?.kind === 'token' ? principal.id : undefined;
        if (id === undefined) throw new Error('a credential route called without a token principal');
        await revoke(id);
        return { status: 204 };
      },
    }),
  ];
}
