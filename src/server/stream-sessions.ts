import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../core/clock.js';
import { ConnectionAdmission } from '../protocol/connection-admission.js';
import type { LogError } from '../protocol/handshake.js';
import { ApiError, sendRefusal } from './api-error.js';
import type { CredentialSessions } from './credential-revocations.js';
import { type EventStream, openEventStream, type StreamCredential } from './sse.js';
import { tokenCheck } from './token-check.js';
import type { Principal, TokenAuthority } from './tokens.js';

export interface StreamSessionsOptions {
  readonly authority: TokenAuthority;
  /** Whether the server's shutdown began: a stream is refused 503 VK_SHUTTING_DOWN then, as any request. */
  readonly closing: () => boolean;
  readonly logError: LogError;
  readonly clock: Clock;
}

/**
 * The API's open event streams, by the token each was opened with: a revoked token's streams end
 * (event: error, VK_UNAUTHORIZED, as a new request with it is answered 401) instead of streaming on.
 * A stream opens (open()) once its token is checked again, by a ConnectionAdmission as a runner's
 * connection is: a token revoked while the request's first check read it, or while the route read
 * the run, would have had its stream opened after revoke() ended those of that time, streaming until
 * the next revocation sweep; it is refused 401 now, as a request made after. That costs one token
 * read per stream, none per event. Lifecycle: open() any number at once; revoke() at any time;
 * close() at shutdown, before the HTTP server closes.
 */
export class StreamSessions implements CredentialSessions {
  private readonly admission: ConnectionAdmission<string>;

  constructor(
    private readonly streams: Set<EventStream>,
    private readonly options: StreamSessionsOptions,
  ) {
    const check = tokenCheck(options.authority, async (principal) => {
      // registerRoutes let the request's token through (a token's role never changes): this check is
      // whether it is still valid. A job token it refuses on every route but its job's own.
      if (principal.kind === 'token') return principal.id;
      throw new ApiError(403, 'VK_FORBIDDEN', 'an event stream takes an API token, not a job token');
    });
    this.admission = new ConnectionAdmission({
      authenticate: ({ headers }) => check(headers.authorization),
      logError: options.logError,
      closing: options.closing,
    });
  }

  /**
   * Takes over `reply` as the event stream of `principal`, the token registerRoutes authenticated,
   * once the admission checked it again; undefined when it was refused (and answered so).
   */
  async open(
    request: FastifyRequest,
    reply: FastifyReply,
    principal: Principal | undefined,
  ): Promise<EventStream | undefined> {
    let stream: EventStream | undefined;
    const refusal = await this.admission.admit(request.raw, () => {
      stream = openEventStream(reply, this.streams, this.credentialOf(principal));
    });
    if (refusal !== undefined) sendRefusal(reply, refusal);
    return stream;
  }

  principals(): Set<string> {
    const ids = new Set<string>();
    for (const stream of this.streams) if (stream.credentialId !== undefined) ids.add(stream.credentialId);
    return ids;
  }

  revoke(credentialId: string): number {
    this.admission.revoke(credentialId);
    let ended = 0;
    for (const stream of [...this.streams]) {
      if (stream.credentialId !== credentialId) continue;
      stream.fail('VK_UNAUTHORIZED', `token ${credentialId} was revoked`);
      ended++;
    }
    return ended;
  }

  /** Refuses the streams being opened (503 VK_SHUTTING_DOWN, at once) and ends the open ones. Idempotent. */
  close(): void {
    this.admission.close();
    for (const stream of [...this.streams]) stream.end();
  }

  /** The API token a stream speaks for: revoking it, or its expiry, ends the stream. */
  private credentialOf(principal: Principal | undefined): StreamCredential | undefined {
    if (principal?.kind !== 'token') return undefined;
    return {
      id: principal.id,
      now: () => this.options.clock.now(),
      ...(principal.expiresAt === undefined ? {} : { expiresAt: principal.expiresAt }),
    };
  }
}
