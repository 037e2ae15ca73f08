import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SweepTimer } from '../../core/sweep-timer.js';
import { type Clock, systemClock, timerClock } from '../clock.js';
import { ConnectionAdmission } from '../connection-admission.js';
import { decodeBatch, type MessageDecoder } from '../frame.js';
import { type Authenticate, type LogError, versionRefusal } from '../handshake.js';
import { protocolVersion } from '../messages.js';
import type { NetworkTransport } from '../transport-end.js';
import { giveUpAfterMs } from './client.js';
import { endedStatus, LongPollSession, respondError, respondJson } from './session.js';
import { type LongPollRoute, longPollRoutes } from './wire.js';

export interface LongPollAcceptorOptions<In, Principal> {
  /** Every route lives under this prefix, e.g. `/api/v1/runner/poll`. */
  readonly basePath: string;
  readonly authenticate: Authenticate<Principal>;
  /** Told an authentication hook that threw (answered 500 VK_INTERNAL). */
  readonly logError: LogError;
  readonly decoder: MessageDecoder<In>;
  readonly clock?: Clock;
  /** How long a poll waits for news before it is answered empty. */
  readonly holdMs?: number;
  /** A session whose client has had no request open for this long is closed as lost. */
  readonly sessionTtlMs?: number;
}

export const defaultHoldMs = 25_000;
/**
 * A live client has a request open again within 10 s of its last answer: it abandons a poll held 10 s
 * past holdMs, and gives its session up as lost after 10 s of failed requests (then opens another,
 * where a runner resumes its leases). So a session idle past that, with a margin, has no client: a
 * runner killed while on long-poll is listed offline this soon after its last request, not a minute.
 */
export const defaultSessionTtlMs = giveUpAfterMs + 5_000;

type Listener<Out, In, Principal> = (transport: NetworkTransport<Out, In>, principal: Principal) => void;

/**
 * The server end of the HTTP long-poll transport, as a plain node:http handler (a Fastify server
 * can mount it on a wildcard route). Routes under basePath, all JSON:
 *   POST   /sessions                  → 201 {v, sessionId, holdMs}       (authenticates)
 *   POST   /sessions/:id/messages     → 200 {v, ack}                     body {v, seq, messages}
 *   GET    /sessions/:id/messages?ack=N → 200 {v, seq, messages, closed?} (held up to holdMs)
 *   DELETE /sessions/:id              → 204
 * Errors are `{code, message}`, the code in X-Valkyrie-Error too, with 400 (bad frame: the session
 * closes), 404 (no such session), 410 (session ended), 413 (too large: the session closes), 401/403
 * (authentication hook; 401 also for every request of a session whose credential was revoked, see
 * revoke()), 500 VK_INTERNAL (the hook threw), 503 VK_SHUTTING_DOWN (closing; see ConnectionAdmission).
 * The session id is the capability for the later requests; it is 128 random bits.
 * Lifecycle: construct → handle() each request → close() ends every session with VK_SHUTTING_DOWN.
 */
export class LongPollAcceptor<Out, In, Principal> {
  private readonly sessions = new Map<string, LongPollSession<Out, In>>();
  /** Whom each session's authentication accepted it as. */
  private readonly principalOf = new WeakMap<LongPollSession<Out, In>, Principal>();
  private readonly listeners: Listener<Out, In, Principal>[] = [];
  private readonly clock: Clock;
  private readonly holdMs: number;
  private readonly sessionTtlMs: number;
  private readonly sweepTimer: SweepTimer;
  /**
   * When this process last ran again after not running (see SweepTimer): sessions count as idle from
   * then at the earliest, as their clients' requests of the meantime may not have been read yet.
   */
  private resumedAt = Number.NEGATIVE_INFINITY;
  private closing = false;
  private readonly admission: ConnectionAdmission<Principal>;

  constructor(private readonly options: LongPollAcceptorOptions<In, Principal>) {
    this.admission = new ConnectionAdmission({
      authenticate: options.authenticate,
      logError: options.logError,
      precheck: versionRefusal,
    });
    this.clock = options.clock ?? systemClock;
    this.holdMs = options.holdMs ?? defaultHoldMs;
    this.sessionTtlMs = options.sessionTtlMs ?? defaultSessionTtlMs;
    this.sweepTimer = new SweepTimer(timerClock(this.clock), {
      expire: () => {
        this.sweep();
        this.scheduleSweep();
      },
      extendDue: () => {
        this.resumedAt = this.clock.now();
      },
    });
    this.scheduleSweep();
  }

  onConnection(listener: Listener<Out, In, Principal>): void {
    this.listeners.push(listener);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Answers the request if its path is under basePath and returns true; otherwise returns false. */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const url = new URL(request.url ?? '/', 'http://x');
    const { basePath } = this.options;
    if (url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) return false;
    const parts = url.pathname.slice(basePath.length).split('/').filter(Boolean);
    const route = routeOf(parts);
    const id = parts[1];
    if (route === undefined) {
      respondError(response, 404, 'VK_NOT_FOUND', `no long-poll route ${url.pathname}`);
      return true;
    }
    switch (`${request.method} ${route}`) {
      case 'POST sessions':
        void this.open(request, response);
        return true;
      case 'POST messages':
        return this.withSession(id, response, (session) => this.receive(session, request, response));
      case 'GET messages':
        return this.withSession(id, response, (session) => this.poll(session, url, response));
      case 'DELETE session':
        return this.withSession(id, response, (session) => {
          session.closedByClient(url.searchParams.get('reason') ?? 'closed by the client');
          this.sessions.delete(session.id);
          response.writeHead(204).end();
        });
      default: {
        // As RFC 9110 asks of a 405, and as the API's routes answer: the methods the path takes.
        const allow = longPollRoutes[route].methods.join(', ');
        respondError(
          response,
          405,
          'VK_METHOD',
          `${request.method} is not allowed on ${url.pathname}; it takes ${allow}`,
          { allow },
        );
        return true;
      }
    }
  }

  /** Whom the sessions still open were accepted as. */
  principals(): Set<Principal> {
    const principals = new Set<Principal>();
    for (const session of this.sessions.values()) {
      const principal = this.principalOf.get(session);
      if (session.ended === undefined && principal !== undefined) principals.add(principal);
    }
    return principals;
  }

  /**
   * Ends every open session accepted as `principal` with VK_CREDENTIAL_REVOKED, at once (its onClose
   * listeners have run when this returns); its held poll and later requests are answered 401 with
   * `{code: "VK_CREDENTIAL_REVOKED", message: why}`. How many it ended. A session open being
   * authenticated as `principal` is authenticated again.
   */
  revoke(principal: Principal, why: string): number {
    this.admission.revoke(principal);
    let ended = 0;
    for (const session of this.sessions.values()) {
      if (session.ended !== undefined || this.principalOf.get(session) !== principal) continue;
      session.credentialRevoked(why);
      ended++;
    }
    return ended;
  }

  /**
   * Idempotent: ends every session (clients reconnect elsewhere) and stops the sweeper. A session
   * open still being authenticated is answered 503 VK_SHUTTING_DOWN now, before the HTTP server's
   * close can end its connection unanswered.
   */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.admission.close();
    this.sweepTimer.close();
    for (const session of this.sessions.values()) session.goAway('the control plane is shutting down');
  }

  private async open(request: IncomingMessage, response: ServerResponse): Promise<void> {
    request.resume();
    const refusal = await this.admission.admit(request, (principal) => this.openSession(response, principal));
    if (refusal !== undefined) respondError(response, refusal.status, refusal.code, refusal.message);
  }

  /** Opens the session of an admitted request, in the turn of its admission's last check. */
  private openSession(response: ServerResponse, principal: Principal): void {
    const id = randomBytes(16).toString('base64url');
    const session = new LongPollSession<Out, In>(
      id,
      this.clock,
      this.holdMs,
      this.options.decoder.maxFrameBytes,
    );
    this.sessions.set(id, session);
    this.principalOf.set(session, principal);
    for (const listener of this.listeners) listener(session, principal);
    respondJson(response, 201, JSON.stringify({ v: protocolVersion, sessionId: id, holdMs: this.holdMs }));
  }

  private withSession(
    id: string | undefined,
    response: ServerResponse,
    use: (session: LongPollSession<Out, In>) => void,
  ): true {
    const session = id === undefined ? undefined : this.sessions.get(id);
    if (session === undefined) {
      respondError(response, 404, 'VK_SESSION_NOT_FOUND', `no long-poll session ${JSON.stringify(id)}`);
    } else if (session.ended !== undefined && session.ended.code !== 'VK_CLOSED') {
      respondError(response, endedStatus(session.ended), session.ended.code, session.ended.reason);
    } else {
      use(session);
    }
    return true;
  }

  private poll(session: LongPollSession<Out, In>, url: URL, response: ServerResponse): void {
    const ack = Number(url.searchParams.get('ack') ?? '0');
    if (!Number.isSafeInteger(ack) || ack < 0) {
      const received = JSON.stringify(url.searchParams.get('ack'));
      respondError(response, 400, 'VK_PROTOCOL', `?ack must be a non-negative integer, received ${received}`);
      return;
    }
    session.poll(ack, response);
  }

  private receive(
    session: LongPollSession<Out, In>,
    request: IncomingMessage,
    response: ServerResponse,
  ): void {
    const limit = this.options.decoder.maxFrameBytes;
    const chunks: Buffer[] = [];
    let bytes = 0;
    request.on('error', () => undefined);
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= limit) return void chunks.push(chunk);
      if (response.headersSent) return;
      // Stop reading a body that is already too large; the connection goes with it.
      const message = `batch of more than ${limit} bytes exceeds the limit`;
      session.reject({ code: 'VK_FRAME_TOO_LARGE', message });
      response.setHeader('connection', 'close');
      response.on('finish', () => request.destroy());
      respondError(response, 413, 'VK_FRAME_TOO_LARGE', message);
    });
    request.on('end', () => {
      if (response.headersSent) return;
      if (session.ended !== undefined)
        return respondError(response, endedStatus(session.ended), session.ended.code, session.ended.reason);
      const decoded = decodeBatch(Buffer.concat(chunks), this.options.decoder);
      if (decoded.kind === 'error') {
        session.reject(decoded.error);
        return respondError(response, 400, decoded.error.code, decoded.error.message);
      }
      const result = session.receive(decoded.value.seq, decoded.value.messages);
      if (result.kind === 'gap') {
        const message = `batch starts at seq ${decoded.value.seq}, but only messages up to the one before were expected`;
        session.reject({ code: 'VK_PROTOCOL', message });
        return respondError(response, 400, 'VK_PROTOCOL', message);
      }
      respondJson(response, 200, JSON.stringify({ v: protocolVersion, ack: result.ack }));
    });
  }

  /** A no-op once closed (SweepTimer.close). */
  private scheduleSweep(): void {
    this.sweepTimer.arm(this.clock.now() + Math.max(1, Math.floor(this.sessionTtlMs / 4)));
  }

  /**
   * Expires idle sessions; ended ones linger one TTL so a client can still fetch their last batch.
   * A late sweep reads the requests that waited first (see SweepTimer), so a poll parked meanwhile
   * keeps its session.
   */
  private sweep(): void {
    const now = this.clock.now();
    for (const session of this.sessions.values()) {
      const idleSince = session.idleSince();
      if (idleSince === undefined || now - Math.max(idleSince, this.resumedAt) <= this.sessionTtlMs) continue;
      if (session.ended === undefined) session.expire(this.sessionTtlMs);
      this.sessions.delete(session.id);
    }
  }
}

/** ['sessions'] → 'sessions', ['sessions', id] → 'session', ['sessions', id, 'messages'] → 'messages'. */
function routeOf(parts: readonly string[]): LongPollRoute | undefined {
  if (parts[0] !== 'sessions') return undefined;
  if (parts.length === 1) return 'sessions';
  if (parts.length === 2) return 'session';
  if (parts.length === 3 && parts[2] === 'messages') return 'messages';
  return undefined;
}
