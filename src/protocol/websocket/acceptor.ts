import { type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { errorCodeHeader } from '../../core/errors.js';
import { type Clock, systemClock } from '../clock.js';
import { ConnectionAdmission } from '../connection-admission.js';
import type { MessageDecoder } from '../frame.js';
import {
  type Authenticate,
  batchFrames,
  errorBody,
  framesHeader,
  type LogError,
  statusHeaders,
  versionRefusal,
} from '../handshake.js';
import type { NetworkTransport } from '../transport-end.js';
import { serveWithoutUpgrade } from './ignored-upgrade.js';
import { defaultKeepAliveIntervalMs, type Framing, WebSocketTransport } from './socket-transport.js';
import { malformedUpgrade, type UpgradeRefusal } from './upgrade-request.js';

export interface WebSocketAcceptorOptions<In, Principal> {
  /** The node:http server whose upgrade requests on `path` this acceptor takes. */
  readonly server: Server;
  readonly path: string;
  readonly authenticate: Authenticate<Principal>;
  /** Told an authentication hook that threw (answered 500 VK_INTERNAL). */
  readonly logError: LogError;
  readonly decoder: MessageDecoder<In>;
  readonly clock?: Clock;
  readonly keepAliveIntervalMs?: number;
}

export type ConnectionListener<Out, In, Principal> = (
  transport: NetworkTransport<Out, In>,
  principal: Principal,
) => void;

/**
 * The server end of the WebSocket transport. Lifecycle: construct (it attaches to the server's
 * 'upgrade' event) → onConnection listeners receive each authenticated connection → close() refuses
 * new upgrades and closes every open connection with 1001 so runners reconnect elsewhere. revoke()
 * closes the connections of one principal whose credential stopped being valid; an upgrade still
 * being authenticated as that principal is authenticated again (ConnectionAdmission).
 * Upgrades on other paths are left to other listeners or, when there are none, served as the plain
 * requests they also are (serveWithoutUpgrade), by the server's 'request' listener.
 * A connection's bad frame closes that connection only.
 */
export class WebSocketAcceptor<Out, In, Principal> {
  private readonly sockets: WebSocketServer;
  private readonly listeners: ConnectionListener<Out, In, Principal>[] = [];
  /** Each open connection and whom its authentication accepted it as. */
  private readonly open = new Map<WebSocketTransport<Out, In>, Principal>();
  private closing = false;
  private readonly admission: ConnectionAdmission<Principal>;
  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) =>
    void this.upgrade(request, socket, head);

  constructor(private readonly options: WebSocketAcceptorOptions<In, Principal>) {
    this.admission = new ConnectionAdmission({
      authenticate: options.authenticate,
      logError: options.logError,
      precheck: versionRefusal,
    });
    // ws applies maxPayload before buffering a message, so a huge frame never reaches memory; but it
    // closes with a bare 1009. Up to twice the limit, decodeFrame refuses it with a named reason.
    this.sockets = new WebSocketServer({ noServer: true, maxPayload: 2 * options.decoder.maxFrameBytes });
    this.sockets.on('headers', (headers, request) => {
      if (framingOf(request) === 'batched') headers.push(`${framesHeader}: ${batchFrames}`);
    });
    // What ws refuses that malformedUpgrade let through (a malformed Sec-WebSocket-Protocol, or a
    // check a later ws adds) comes here instead of ws's plain-text answer; every such refusal of
    // ws's is a 400, as malformedUpgrade has answered the 405 already.
    this.sockets.on('wsClientError', (error, socket, request) =>
      refuse(socket, request, {
        status: 400,
        code: 'VK_INVALID_REQUEST',
        message: `the WebSocket upgrade is malformed: ${error.message}`,
      }),
    );
    options.server.on('upgrade', this.onUpgrade);
  }

  onConnection(listener: ConnectionListener<Out, In, Principal>): void {
    this.listeners.push(listener);
  }

  get connectionCount(): number {
    return this.open.size;
  }

  /** Whom the open connections were accepted as. */
  principals(): Set<Principal> {
    return new Set(this.open.values());
  }

  /**
   * Closes every open connection accepted as `principal` with 4401 (VK_CREDENTIAL_REVOKED), at once:
   * its onClose listeners have run when this returns. `why` is the reason after the code. How many
   * it closed. An upgrade being authenticated as `principal` is authenticated again.
   */
  revoke(principal: Principal, why: string): number {
    this.admission.revoke(principal);
    let closed = 0;
    for (const [transport, owner] of [...this.open]) {
      if (owner !== principal) continue;
      transport.credentialRevoked(why);
      closed++;
    }
    return closed;
  }

  /**
   * Idempotent. Resolves once every connection has been told to go away; an upgrade still being
   * authenticated is refused 503 VK_SHUTTING_DOWN at once.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.admission.close();
    this.options.server.off('upgrade', this.onUpgrade);
    for (const transport of this.open.keys())
      transport.goAway('VK_SHUTTING_DOWN: the control plane is shutting down');
    this.open.clear();
    await new Promise<void>((resolve) => this.sockets.close(() => resolve()));
  }

  private async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const path = (request.url ?? '').split('?', 1)[0];
    if (path !== this.options.path) {
      const { server } = this.options;
      if (server.listenerCount('upgrade') === 1) serveWithoutUpgrade(server, request, socket, head);
      return;
    }
    // A client that hangs up during authentication must not crash the server.
    socket.on('error', () => socket.destroy());
    const malformed = malformedUpgrade(request);
    if (malformed !== undefined) return refuse(socket, request, malformed);
    const refusal = await this.admission.admit(request, (principal) =>
      this.completeUpgrade(request, socket, head, principal),
    );
    if (refusal !== undefined) refuse(socket, request, refusal);
  }

  /** Completes the upgrade of an admitted connection, in the turn of its admission's last check. */
  private completeUpgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    principal: Principal,
  ): void {
    if (socket.destroyed) return;
    this.sockets.handleUpgrade(request, socket, head, (webSocket) => {
      const transport = new WebSocketTransport<Out, In>(
        webSocket,
        this.options.decoder,
        {
          clock: this.options.clock ?? systemClock,
          intervalMs: this.options.keepAliveIntervalMs ?? defaultKeepAliveIntervalMs,
        },
        socket,
        framingOf(request),
      );
      this.open.set(transport, principal);
      transport.onClose(() => this.open.delete(transport));
      for (const listener of this.listeners) listener(transport, principal);
    });
  }
}

/** Frames of several messages when the client asked for them (handshake.ts). */
function framingOf(request: IncomingMessage): Framing {
  return request.headers[framesHeader] === batchFrames ? 'batched' : 'single';
}

function refuse(socket: Duplex, request: IncomingMessage, refusal: UpgradeRefusal): void {
  if (socket.destroyed) return;
  const { status, code, message, path, headers = {} } = refusal;
  const body = errorBody(code, message, path);
  // Closed once the answer is written, as ws closes the sockets it refuses: the HTTP server allows
  // half-open sockets, so a client that kept its end open would otherwise hold this one for good.
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      Object.entries({ ...statusHeaders(status), ...headers })
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      // The code in a header too, as every error answer of the API names it.
      `${errorCodeHeader}: ${code}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n` +
      // A HEAD request's answer has no content (RFC 9110 §9.3.2), as the API answers HEAD: an HTTP
      // client reads what follows the headers as a malformed next answer.
      (request.method === 'HEAD' ? '' : body),
  );
}
