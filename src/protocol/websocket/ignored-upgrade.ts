import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Server as TlsServer } from 'node:tls';

/**
 * Serves an upgrade request nobody takes (`Upgrade: h2c` from `curl --http2`, or a WebSocket
 * handshake on another path) as the plain HTTP request it also is: RFC 9110 §7.8 lets a server ignore
 * Upgrade, and the answer is the request's as if the header were not there (status, body, keep-alive).
 *
 * Why this is needed: Node 20 emits 'upgrade' instead of 'request' for every request with
 * `Connection: Upgrade` once the server has an 'upgrade' listener, and has taken its HTTP parser
 * off the socket by then (lib/_http_server.js, onParserExecuteCommon); the body and any pipelined
 * request are in `head`, unparsed. Node 24.9 added createServer's shouldUpgradeCallback to choose
 * before that; Node 20 has none. So the request's head is written anew without its Upgrade fields,
 * put back in front of `head` on the socket, and the socket handed to the server as a new connection
 * ('connection' may be emitted to inject a connection, node:http docs), whose parser reads it as an
 * ordinary request — the body, chunked or not, and whatever follows on the connection included.
 *
 * Must run in the 'upgrade' listener's own tick, before the socket can emit 'end'. The server's
 * other 'connection' (or 'secureConnection') listeners see the socket a second time.
 */
export function serveWithoutUpgrade(
  server: Server,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): void {
  if (socket.destroyed || socket.readableEnded) return void socket.destroy();
  const raw = request.rawHeaders;
  if (mayHaveDroppedFields(server, raw)) {
    // The rest of the request stays unread: the socket is no longer the server's, to time out.
    socket.end(tooManyFields, () => socket.destroy());
    return;
  }
  const lines = [`${request.method ?? 'GET'} ${request.url ?? '/'} HTTP/${request.httpVersion}`];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? '';
    // No space after the colon: the head is no longer than the client's was (given CRLF line ends),
    // so one that fit the server's maxHeaderSize still does.
    if (name.toLowerCase() !== 'upgrade') lines.push(`${name}:${raw[i + 1] ?? ''}`);
  }
  // Node reads a request's head as latin1, so this gives back the bytes the client sent.
  socket.unshift(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), head]));
  // An https server's HTTP side listens to its decrypted sockets, the TLS server's 'secureConnection'.
  server.emit(server instanceof TlsServer ? 'secureConnection' : 'connection', socket);
}

/**
 * Whether Node may have left fields out of `rawHeaders`: it stops keeping them past the server's
 * maxHeadersCount (0: no limit; unset: 1,000 fields, as Node 20's parser counts them), so a
 * Content-Length or Transfer-Encoding after those would not be written again, and the body would be
 * served as a request of its own. Such a request is refused whole, as Node refuses a head too large.
 */
function mayHaveDroppedFields(server: Server, rawHeaders: readonly string[]): boolean {
  const limit = typeof server.maxHeadersCount === 'number' ? server.maxHeadersCount : 1000;
  return limit > 0 && rawHeaders.length / 2 >= limit;
}

/** Node's own answer to a head too large (lib/_http_server.js, socketOnError), with its length said. */
const tooManyFields =
  'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';
