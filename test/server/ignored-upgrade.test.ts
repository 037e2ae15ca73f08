import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { expect, it } from 'vitest';
import { adminToken, startTestServer } from './helpers.js';

// A server may ignore Upgrade and answer the request as if it were not there (RFC 9110 §7.8); curl
// --http2 on a plain http URL asks for h2c so, and so do Java's and other HTTP/2-capable clients. Node
// hands every request carrying Connection: Upgrade to the 'upgrade' listeners once there is one, so
// the runner WebSocket's listener must pass the others on to the API instead of dropping them.

const h2cHeaders =
  'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n';

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * A raw HTTP/1.1 connection: `send` writes, `answers` waits for that many final answers in all.
 * `afterContinue` is written when the server answers 100 Continue, so it reaches the server after
 * the request's headers were read.
 */
async function rawConnection(port: number, afterContinue?: string, ca?: Buffer) {
  const socket =
    ca === undefined ? connect({ host: '127.0.0.1', port }) : connectTls({ host: '127.0.0.1', port, ca });
  await once(socket, ca === undefined ? 'connect' : 'secureConnect');
  const closed = once(socket, 'close');
  let received = Buffer.alloc(0);
  const responses: RawResponse[] = [];
  let waiting: { count: number; resolve(): void } | undefined;
  const takeResponse = (): RawResponse | undefined => {
    const end = received.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const [statusLine = '', ...lines] = received.subarray(0, end).toString('latin1').split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    const headers = Object.fromEntries(
      lines.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      }),
    );
    // An interim answer has no content.
    const length = status === 100 ? 0 : Number(headers['content-length']);
    if (Number.isNaN(length)) throw new Error(`no content-length: ${statusLine}`);
    if (received.length < end + 4 + length) return undefined;
    const body = received.subarray(end + 4, end + 4 + length).toString('utf8');
    received = received.subarray(end + 4 + length);
    return { status, headers, body };
  };
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    for (let response = takeResponse(); response !== undefined; response = takeResponse()) {
      if (response.status === 100 && afterContinue !== undefined) socket.write(afterContinue);
      else responses.push(response);
    }
    if (waiting !== undefined && responses.length >= waiting.count) waiting.resolve();
  });
  return {
    closed,
    send: (text: string) => socket.write(text),
    async answers(count: number): Promise<RawResponse[]> {
      if (responses.length < count)
        await Promise.race([
          new Promise<void>((resolve) => (waiting = { count, resolve })),
          closed.then(() => {
            throw new Error(`the server closed the connection after ${responses.length} of ${count} answers`);
          }),
        ]);
      return responses.slice(0, count);
    },
    destroy: () => socket.destroy(),
  };
}

async function started(options: Parameters<typeof startTestServer>[0] = {}) {
  const { server } = await startTestServer(options);
  return Number(new URL(server.url).port);
}

// The role at the end: a body cut short is no JSON, and a token of another role would say so.
const tokenBody = JSON.stringify({ name: 'h2c', role: 'read' });
const tokenPost =
  `POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${adminToken}\r\n${h2cHeaders}` +
  `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(tokenBody)}\r\n`;

it('answers a GET asking for h2c as a plain GET, and keeps the connection for the next request', async () => {
  const connection = await rawConnection(await started());
  connection.send(
    `GET /api/v1/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${adminToken}\r\n${h2cHeaders}\r\n`,
  );
  const [tokens] = await connection.answers(1);
  expect(tokens?.status).toBe(200);
  expect(JSON.parse(tokens?.body ?? '')).toMatchObject({ tokens: expect.any(Array) });
  expect(tokens?.headers.connection).toBe('keep-alive');
  expect(tokens?.headers.upgrade).toBeUndefined();
  connection.send('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  expect((await connection.answers(2))[1]).toMatchObject({ status: 200, body: '{"status":"ok"}' });
  connection.destroy();
});

it('answers a POST asking for h2c with its body, sent with the headers or after them', async () => {
  const port = await started();
  const together = await rawConnection(port);
  together.send(`${tokenPost}\r\n${tokenBody}`);
  // Part of the body read with the headers, the rest once the server asked for it.
  const apart = await rawConnection(port, tokenBody.slice(5));
  apart.send(`${tokenPost}Expect: 100-continue\r\n\r\n${tokenBody.slice(0, 5)}`);
  for (const connection of [together, apart]) {
    const [created] = await connection.answers(1);
    expect(created?.status).toBe(201);
    expect(JSON.parse(created?.body ?? '')).toMatchObject({ role: 'read', token: expect.any(String) });
    connection.destroy();
  }
});

it('answers requests sent behind one asking for h2c in the same packet, in order', async () => {
  const connection = await rawConnection(await started());
  connection.send(`${tokenPost}\r\n${tokenBody}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
  expect((await connection.answers(2)).map(({ status }) => status)).toEqual([201, 200]);
  connection.destroy();
});

it('closes the connection after the answer when the request asked for that beside h2c', async () => {
  const connection = await rawConnection(await started());
  connection.send(
    'GET /api/v1/no-such-route HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings, close\r\n' +
      'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n',
  );
  const [missing] = await connection.answers(1);
  expect(missing?.status).toBe(404);
  expect(JSON.parse(missing?.body ?? '')).toMatchObject({ code: expect.any(String) });
  expect(missing?.headers.connection).toBe('close');
  await connection.closed;
});

it('answers a POST asking for h2c over https too', async () => {
  const dir = resolve(import.meta.dirname, '../fixtures/tls');
  const [cert, key] = [readFileSync(join(dir, 'cert.pem')), readFileSync(join(dir, 'key.pem'))];
  const connection = await rawConnection(await started({ tls: { cert, key } }), undefined, cert);
  connection.send(`${tokenPost}\r\n${tokenBody}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
  expect((await connection.answers(2)).map(({ status }) => status)).toEqual([201, 200]);
  connection.destroy();
});

it('refuses one asking for h2c with more header fields than Node keeps, whose framing could be lost', async () => {
  // Node drops the fields past the server's maxHeadersCount from rawHeaders, so a Content-Length after
  // them would not be written again, and the body would be read as a request of its own: smuggled past
  // a proxy that forwards Upgrade (as one set up for WebSockets does) and counts one request.
  const connection = await rawConnection(await started());
  const padding = Array.from({ length: 1100 }, (_, i) => `X-Pad-${i}: x\r\n`).join('');
  const hidden = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
  connection.send(
    `POST /api/v1/no-such-route HTTP/1.1\r\nHost: x\r\n${h2cHeaders}${padding}` +
      `Content-Length: ${hidden.length}\r\n\r\n${hidden}`,
  );
  const [refused] = await connection.answers(1);
  expect(refused).toMatchObject({ status: 431, headers: { connection: 'close' } });
  await connection.closed;
});
