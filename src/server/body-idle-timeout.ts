import type { Server } from 'node:http';
import { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { errorCodeHeader } from '../core/errors.js';
import { ApiError, sendApiError } from './api-error.js';

/**
 * nginx's client_body_timeout: how long a request body may send nothing before it is given up. A
 * limit on the whole body (Node's requestTimeout) would cut off a large upload on a slow link.
 */
export const defaultBodyIdleTimeoutMs = 60_000;

/**
 * Gives up a request whose body stops arriving for `idleMs` (its client's connection died without a
 * FIN: a network lost, a laptop closed), which would otherwise hold its upload's temporary file or
 * Postgres transaction, and the drain, forever. The answer is 408 VK_REQUEST_TIMEOUT, if none went
 * out yet, and the connection is then closed: the body's reader fails as on a reset, and cleans up.
 *
 * Only while a body arrives: the timer starts with the request and stops at the body's end, so a
 * slow but moving upload of any length, an event stream, a long poll held after its body, and a
 * WebSocket (an upgrade, no request here) are never timed. Time the server itself does not read
 * (the body waits in its buffer for a slow disk or store) is not the client's, and does not count.
 */
export function abandonStalledBodies(
  app: FastifyInstance,
  idleMs: number,
  /** Told, in one line, of each request given up: the client may never learn of it. */
  logNotice: (line: string) => void,
): void {
  app.addHook('onRequest', async (request, reply) => {
    const raw = request.raw;
    // inject() (tests) has no connection to time.
    if (raw.complete || !hasBody(raw.headers) || !(raw.socket instanceof Socket)) return;
    const stop = () => {
      reply.raw.off('timeout', onIdle);
      raw.socket.off('resume', restartClock);
      // Once answered, Node times the connection itself (keep-alive); before, nothing else does.
      if (!reply.raw.writableFinished && !raw.socket.destroyed) raw.socket.setTimeout(0);
    };
    // On the response, not the request: Node closes the connection of a 'timeout' nobody listens to,
    // and a request no longer emits one once its body is whole, though its reader may not be done.
    let awaitingResume = false;
    const restartClock = () => {
      awaitingResume = false;
      if (!raw.complete && !raw.socket.destroyed) raw.socket.setTimeout(idleMs);
    };
    const onIdle = () => {
      if (raw.complete) return stop();
      // Node's parser refreshes the timer with every byte read; one that fired while bytes wait
      // unread found a slow reader, not a silent client. The client's time starts again when the
      // server reads on: timed from before, a timer due at that moment fired before the bytes
      // waiting in the socket were read (seen: a 408 as a store held up for 4 timeouts let go).
      if (raw.readableLength > 0 || raw.socket.isPaused()) {
        if (!awaitingResume) {
          awaitingResume = true;
          raw.socket.once('resume', restartClock);
        }
        return void raw.socket.setTimeout(idleMs);
      }
      stop();
      logNotice(
        `gave up ${request.method} ${request.url}: no byte of its body arrived for ${idleMs} ms (--body-timeout)`,
      );
      if (reply.raw.headersSent) return void raw.destroy();
      reply.raw.once('finish', () => raw.destroy());
      const timedOut = new ApiError(
        408,
        'VK_REQUEST_TIMEOUT',
        `no byte of the request body arrived for ${idleMs} ms; the request was given up, send it again`,
      );
      // A hijacked reply is a raw handler's (the long-poll acceptor's), which answers only once the
      // body is whole: it is answered here, in the same {code, message}, not closed unanswered.
      if (reply.sent) {
        reply.raw.writeHead(408, {
          'content-type': 'application/json; charset=utf-8',
          connection: 'close',
          [errorCodeHeader]: timedOut.code,
        });
        return void reply.raw.end(JSON.stringify(timedOut.body()));
      }
      reply.header('connection', 'close');
      sendApiError(reply, timedOut);
    };
    reply.raw.setTimeout(idleMs, onIdle);
    raw.once('end', stop);
  });
}

function hasBody(headers: { 'content-length'?: string; 'transfer-encoding'?: string }): boolean {
  return headers['transfer-encoding'] !== undefined || Number(headers['content-length'] ?? 0) > 0;
}

/**
 * No limit on a whole request: Node's requestTimeout (300 s) answered 408 to a bundle upload that
 * kept moving, 100 bytes a second (seen after 329 s). A body that stops is --body-timeout's
 * (body-idle-timeout.ts); headers that stop stay Node's headersTimeout's (60 s), which Node checks
 * without a requestTimeout. Fastify sets neither on a server its serverFactory made.
 */
export function withoutRequestTimeout(server: Server): Server {
  server.requestTimeout = 0;
  return server;
}
