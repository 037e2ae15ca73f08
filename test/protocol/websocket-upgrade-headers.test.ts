import { once } from 'node:events';
import { type IncomingMessage, request } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { errorCodeHeader } from '../../src/core/errors.js';
import { goodToken, type ProtocolServer, startProtocolServer } from './harness.js';

// An upgrade that ws itself would refuse (its checks: the method, Upgrade, Sec-WebSocket-Key and
// Sec-WebSocket-Version of RFC 6455 §4.2.1, and a well-formed Sec-WebSocket-Protocol) is answered as every other
// refusal of the runner protocol: a JSON body {code, message, path?} and the code in X-Valkyrie-Error,
// not ws's plain-text page.

let server: ProtocolServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const validKey = 'dGhlIHNhbXBsZSBub25jZQ==';
const upgradeHeaders = {
  connection: 'Upgrade',
  upgrade: 'websocket',
  'sec-websocket-key': validKey,
  'sec-websocket-version': '13',
};

const httpUrl = (wsUrl: string) => wsUrl.replace(/^ws:/, 'http:');

interface Refusal {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly header: string | string[] | undefined;
  readonly body: unknown;
  readonly extra: Record<string, string | undefined>;
}

/** Sends an upgrade request with `headers` (undefined ones left out) and reads the refusal. */
async function refusal(
  wsUrl: string,
  headers: Record<string, string | undefined>,
  method = 'GET',
): Promise<Refusal> {
  const sent = Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined));
  const outgoing = request(httpUrl(wsUrl), { method, headers: sent });
  outgoing.end();
  const upgraded = once(outgoing, 'upgrade').then((args) => {
    const [, socket] = args as [unknown, Duplex];
    socket.destroy();
    throw new Error('the upgrade was accepted');
  });
  const [response] = (await Promise.race([once(outgoing, 'response'), upgraded])) as [IncomingMessage];
  let text = '';
  for await (const chunk of response) text += String(chunk);
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // ws's own answer is plain text: kept as it is, so the assertion shows it.
  }
  return {
    status: response.statusCode ?? 0,
    contentType: response.headers['content-type'],
    header: response.headers[errorCodeHeader],
    body,
    extra: {
      allow: response.headers.allow,
      'sec-websocket-version': response.headers['sec-websocket-version'],
    },
  };
}

const invalid = (path: string, message: RegExp) => ({
  status: 400,
  contentType: 'application/json',
  header: 'VK_INVALID_REQUEST',
  body: { code: 'VK_INVALID_REQUEST', message: expect.stringMatching(message), path },
});

describe('the WebSocket acceptor, given an upgrade ws would refuse', () => {
  it('answers a malformed upgrade with a JSON refusal naming the header, before authenticating it', async () => {
    const live = await startProtocolServer();
    server = live;
    // No credential: a malformed upgrade is refused for what it is, as ws does before verifyClient.
    const answers = {
      method: await refusal(live.wsUrl, upgradeHeaders, 'POST'),
      upgrade: await refusal(live.wsUrl, { ...upgradeHeaders, upgrade: 'h2c' }),
      noKey: await refusal(live.wsUrl, { ...upgradeHeaders, 'sec-websocket-key': undefined }),
      badKey: await refusal(live.wsUrl, { ...upgradeHeaders, 'sec-websocket-key': 'abc' }),
      noVersion: await refusal(live.wsUrl, { ...upgradeHeaders, 'sec-websocket-version': undefined }),
      badVersion: await refusal(live.wsUrl, { ...upgradeHeaders, 'sec-websocket-version': '12' }),
    };
    const none = { allow: undefined, 'sec-websocket-version': undefined };
    expect(answers).toEqual({
      method: {
        status: 405,
        contentType: 'application/json',
        header: 'VK_METHOD',
        body: { code: 'VK_METHOD', message: expect.stringMatching(/GET.*received POST/) },
        extra: { ...none, allow: 'GET' },
      },
      upgrade: {
        ...invalid('headers.upgrade', /must be "websocket".*received "h2c"/),
        extra: none,
      },
      noKey: {
        ...invalid('headers.sec-websocket-key', /16 bytes in base64.*received none/),
        extra: none,
      },
      badKey: {
        ...invalid('headers.sec-websocket-key', /16 bytes in base64.*received "abc"/),
        extra: none,
      },
      // RFC 6455 §4.4: the answer lists the versions the server speaks.
      noVersion: {
        ...invalid('headers.sec-websocket-version', /13 or 8.*received none/),
        extra: { ...none, 'sec-websocket-version': '13, 8' },
      },
      badVersion: {
        ...invalid('headers.sec-websocket-version', /13 or 8.*received "12"/),
        extra: { ...none, 'sec-websocket-version': '13, 8' },
      },
    });
  });

  it('answers any other upgrade ws refuses (a malformed Sec-WebSocket-Protocol) with a JSON refusal', async () => {
    const live = await startProtocolServer();
    server = live;
    const answer = await refusal(live.wsUrl, {
      ...upgradeHeaders,
      ...goodToken,
      'sec-websocket-protocol': 'a,,b',
    });
    expect(answer).toEqual({
      status: 400,
      contentType: 'application/json',
      header: 'VK_INVALID_REQUEST',
      body: {
        code: 'VK_INVALID_REQUEST',
        message: expect.stringMatching(/Sec-WebSocket-Protocol/),
      },
      extra: { allow: undefined, 'sec-websocket-version': undefined },
    });
  });

  it('answers a HEAD upgrade 405 with the headers alone, as a HEAD request is answered', async () => {
    const live = await startProtocolServer();
    server = live;
    const socket = connect({ host: '127.0.0.1', port: Number(new URL(live.wsUrl).port) });
    await once(socket, 'connect');
    socket.write(
      `HEAD /runner/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
        `Sec-WebSocket-Key: ${validKey}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    let answer = '';
    for await (const chunk of socket) answer += String(chunk);
    // Content after the headers of a HEAD answer (RFC 9110 §9.3.2) is a parse error to an HTTP client:
    // Node's reports 'Data after `Connection: close`' once it has read the 405.
    const [head = '', body] = answer.split('\r\n\r\n');
    expect({ status: head.split('\r\n')[0], code: /x-valkyrie-error: (\S+)/i.exec(head)?.[1], body }).toEqual(
      {
        status: 'HTTP/1.1 405 Method Not Allowed',
        code: 'VK_METHOD',
        body: '',
      },
    );
  });

  it('still upgrades a well-formed request', async () => {
    const live = await startProtocolServer();
    server = live;
    const outgoing = request(httpUrl(live.wsUrl), { headers: { ...upgradeHeaders, ...goodToken } });
    outgoing.end();
    const [response, socket] = (await once(outgoing, 'upgrade')) as [IncomingMessage, Duplex];
    socket.destroy();
    expect(response.statusCode).toBe(101);
  });
});

// A refused upgrade's socket is closed once its answer is written, whatever the client does: a client
// that reads the refusal and keeps its end open (allowed: the HTTP server allows half-open sockets)
// must not hold a socket of the server's, or a few thousand such requests would exhaust its files.
it('closes the socket of a refused upgrade when the client keeps its end open', async () => {
  server = await startProtocolServer();
  const { port } = new URL(server.wsUrl);
  const clients = await Promise.all(
    [0, 1, 2].map(async () => {
      const client = connect({ host: '127.0.0.1', port: Number(port), allowHalfOpen: true });
      await once(client, 'connect');
      // No credential: refused (401) after the answer is written; the client never ends its side.
      client.write(
        'GET /runner/ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      client.on('data', () => undefined);
      await once(client, 'end');
      return client;
    }),
  );
  const live = server.server;
  const connections = () =>
    new Promise<number>((resolve, reject) =>
      live.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );
  const deadline = Date.now() + 5_000;
  while ((await connections()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(await connections()).toBe(0);
  for (const client of clients) client.destroy();
});
