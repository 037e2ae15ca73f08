import type { FastifyReply } from 'fastify';
import { bearerChallenge, type ErrorCode, errorCodeHeader, ValkyrieError } from '../core/errors.js';
import { type Refusal, unavailableRetryAfterSeconds } from '../protocol/handshake.js';

/**
 * An error the API answers with: `status` and a JSON body `{code, message, path?, ...details}`.
 * `path` names the request field that was wrong (`body.role`, `query.limit`).
 */
export class ApiError extends ValkyrieError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    readonly details: { readonly path?: string } & Readonly<Record<string, unknown>> = {},
  ) {
    super(code, message);
    this.name = 'ApiError';
  }

  body(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export const shuttingDown = () =>
  new ApiError(
    503,
    'VK_SHUTTING_DOWN',
    'the server is shutting down; retry against another replica or later',
  );

/**
 * The seconds a client is told to wait (Retry-After) before it asks again after a 429 or 503; undefined
 * for other statuses. A replica shutting down is replaced, and a store that did not answer is back, in
 * seconds; a full queue drains only as jobs end.
 */
export function retryAfterSeconds(status: number): number | undefined {
  if (status === 503) return unavailableRetryAfterSeconds;
  if (status === 429) return 30;
  return undefined;
}

/**
 * Answers `api`: its status, its JSON body, its code in errorCodeHeader (a HEAD answer keeps no body),
 * and on a 401 the bearer challenge.
 */
export function sendApiError(reply: FastifyReply, api: ApiError): FastifyReply {
  return sendError(reply, api.status, api.code, api.body());
}

/** Answers a ConnectionAdmission's refusal (an event stream's) as sendApiError answers an ApiError. */
export function sendRefusal(reply: FastifyReply, { status, code, message }: Refusal): FastifyReply {
  return sendError(reply, status, code, { code, message });
}

function sendError(reply: FastifyReply, status: number, code: string, body: unknown): FastifyReply {
  const retryAfter = retryAfterSeconds(status);
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  if (status === 401) reply.header('www-authenticate', bearerChallenge);
  reply.header(errorCodeHeader, code);
  return reply.code(status).send(body);
}
