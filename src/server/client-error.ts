import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { type ErrorCode, errorCodeHeader } from '../core/errors.js';

/**
 * Answers a request Node's HTTP parser could not read — headers over its limit, a malformed request
 * line or header, one that did not arrive in time — in the API's error shape, with its code in the
 * header, as every other error answer (Fastify's default said `{"error", "message": "Client Error",
 * "statusCode"}`, without a code). No route ran; the answer is written to the socket, which is then
 * closed, as Node and Fastify do.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] = refusalOf(error);
  if (socket.writable) {
    const body = JSON.stringify({ code, message });
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `${errorCodeHeader}: ${code}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

function refusalOf(error: Error & { code?: string }): [number, ErrorCode, string] {
  if (error.code === 'HPE_HEADER_OVERFLOW')
    return [
      431,
      'VK_HEADERS_TOO_LARGE',
      `the request headers exceed the server's limit of ${maxHeaderSize} bytes (Node's --max-http-header-size)`,
    ];
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return [408, 'VK_REQUEST_TIMEOUT', 'the request did not arrive whole in time; send it again'];
  return [
    400,
    'VK_INVALID_REQUEST',
    `the request is not valid HTTP (${error.code ?? 'unknown'}: ${error.message})`,
  ];
}
