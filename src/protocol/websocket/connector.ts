import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { DeadlineTimer } from '../../core/deadline-timer.js';
import { networkFailure, requestFailureAt } from '../attempt-failure.js';
import { type Clock, systemClock, timerClock } from '../clock.js';
import type { MessageDecoder } from '../frame.js';
import {
  batchFrames,
  type ConnectResult,
  framesHeader,
  parseErrorBody,
  refusesCredential,
  versionHeader,
} from '../handshake.js';
import { protocolVersion } from '../messages.js';
import { certificateFailure } from '../tls-certificate.js';
import type { NetworkTransport } from '../transport-end.js';
import { defaultKeepAliveIntervalMs, type Framing, WebSocketTransport } from './socket-transport.js';

export interface WebSocketConnectOptions<In> {
  /** ws:// or wss:// URL of the acceptor's path. */
  readonly url: string;
  readonly decoder: MessageDecoder<In>;
  /** Sent with the upgrade request, e.g. `authorization`. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly clock?: Clock;
  readonly keepAliveIntervalMs?: number;
  /** How long the upgrade may go unanswered, timed as a DeadlineTimer; default 10 s. */
  readonly handshakeTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

/**
 * The client end of the WebSocket transport. Resolves once the connection is open (`connected`),
 * or with why it is not: `rejected` when the server refused the upgrade with 401/403 (its own
 * `{code, message}` body) or a protocol version error (retrying as is will not help), `unreachable`
 * otherwise, including other refusals of the upgrade, such as a proxy that blocks WebSockets gives
 * (a 403 page of its own, too); `untrusted` when the server's TLS
 * certificate fails verification. Never rejects.
 */
export function connectWebSocket<Out, In>(
  options: WebSocketConnectOptions<In>,
): Promise<ConnectResult<NetworkTransport<Out, In>>> {
  return new Promise((resolve) => {
    const socket = new WebSocket(options.url, {
      headers: { ...options.headers, [versionHeader]: String(protocolVersion), [framesHeader]: batchFrames },
      maxPayload: options.decoder.maxFrameBytes,
      perMessageDeflate: false,
    });
    // Not ws's handshakeTimeout, a plain socket timer: a runner paused (SIGSTOP, a laptop asleep)
    // while its upgrade was out would fire it on waking before reading the answer that waited in its
    // socket, and give up a WebSocket the server had opened. Late-aware, as the long-poll session
    // open; real time, as that: the options' clock paces keep-alives and reconnects.
    const deadline = new DeadlineTimer(timerClock(systemClock), options.handshakeTimeoutMs ?? 10_000, () => {
      socket.terminate();
      settle({ kind: 'unreachable', reason: 'Opening handshake has timed out', failed: networkFailure });
    });
    let settled = false;
    const settle = (result: ConnectResult<NetworkTransport<Out, In>>) => {
      if (settled) return;
      settled = true;
      deadline.close();
      options.signal?.removeEventListener('abort', abort);
      resolve(result);
    };
    const abort = () => {
      socket.terminate();
      settle({ kind: 'unreachable', reason: 'connect aborted', failed: networkFailure });
    };
    if (options.signal?.aborted) return abort();
    options.signal?.addEventListener('abort', abort);
    deadline.start();
    // The raw socket under the WebSocket, so the transport can batch the writes of one tick.
    let stream: Socket | undefined;
    // A server that does not answer the header reads one message per frame only.
    let framing: Framing = 'single';
    socket.once('upgrade', (response) => {
      stream = response.socket;
      if (response.headers[framesHeader] === batchFrames) framing = 'batched';
    });
    socket.once('open', () => {
      if (settled) return;
      const transport = new WebSocketTransport<Out, In>(
        socket,
        options.decoder,
        {
          clock: options.clock ?? systemClock,
          intervalMs: options.keepAliveIntervalMs ?? defaultKeepAliveIntervalMs,
        },
        stream,
        framing,
      );
      settle({ kind: 'connected', transport });
    });
    socket.once('unexpected-response', (_request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', () => undefined);
      const answered = (complete: boolean) => {
        const status = response.statusCode ?? 0;
        // A body the server or a proxy cut short (it went away half-way) never ends, and is no word
        // of the server's on the credential: the status tells, at once rather than at the deadline.
        const body = complete
          ? parseErrorBody(Buffer.concat(chunks).toString('utf8'), status)
          : { code: `HTTP_${status}`, message: `HTTP ${status}: the answer was cut short`, ours: false };
        const { code, message } = body;
        socket.terminate();
        // Credentials and versions will not fix themselves; anything else (a proxy that strips or
        // forbids the upgrade, a server restarting) is worth retrying, over this transport or the
        // other. A 401/403 whose body is not the server's is a proxy's: long-poll may pass it.
        if (refusesCredential(status, body) || code === 'VK_PROTOCOL_VERSION')
          settle({ kind: 'rejected', status, code, reason: `${code}: ${message}` });
        else
          settle({
            kind: 'unreachable',
            reason: `upgrade refused with ${code}: ${message}`,
            failed: { kind: 'answered', status },
          });
      };
      response.on('end', () => answered(true));
      response.on('close', () => {
        if (!response.complete) answered(false);
      });
    });
    let erred = false;
    socket.on('error', (error) => {
      if (settled || erred) return;
      erred = true;
      // What failed is known: the time asking what the server speaks takes is not the server's.
      deadline.close();
      const failure = certificateFailure(error);
      if (failure !== undefined) return settle({ kind: 'untrusted', failure, reason: error.message });
      // Asking what a server that closed the connection speaks takes a TLS handshake: settled after it.
      void requestFailureAt(options.url, error, options.signal).then((failed) =>
        settle({ kind: 'unreachable', reason: error.message, failed }),
      );
    });
  });
}
