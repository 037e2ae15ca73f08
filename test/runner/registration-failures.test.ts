import { readFileSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Registration, registerRunner } from '../../src/runner/registration.js';

const info = { name: 'r1', labels: [], capacity: 1 };

/** One registration attempt against a local HTTP server that answers with `answer`, on its port. */
function registerAt(
  scheme: 'http' | 'https',
  answer: RequestListener,
): Promise<{ port: number; result: Registration }> {
  return registerWith(scheme, createServer(answer));
}

/** One registration attempt at `scheme`://127.0.0.1 and the port of `server`, which it listens on until then. */
async function registerWith(
  scheme: 'http' | 'https',
  server: Server,
): Promise<{ port: number; result: Registration }> {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  try {
    return { port, result: await registerRunner(`${scheme}://127.0.0.1:${port}`, 'tok', info) };
  } finally {
    server.close();
  }
}

it("names a plain-HTTP server behind an https:// URL as the registration's retry reason, not OpenSSL's text", async () => {
  const { port, result } = await registerAt('https', (_request, response) => response.end('{}'));
  expect(result).toEqual({
    kind: 'unreachable',
    reason: `the server at https://127.0.0.1:${port} does not answer TLS (ERR_SSL_WRONG_VERSION_NUMBER): it looks like a plain-HTTP server; try http://127.0.0.1:${port}`,
    failed: { kind: 'tls', plainHttp: true },
  });
});

it('tells an http:// URL of a TLS server by its handshake, and not a plain server that closes requests the same way', async () => {
  const tls = createHttpsServer({
    cert: readFileSync(new URL('../fixtures/tls/cert.pem', import.meta.url)),
    key: readFileSync(new URL('../fixtures/tls/key.pem', import.meta.url)),
  });
  expect((await registerWith('http', tls)).result).toEqual({
    kind: 'unreachable',
    reason: 'other side closed',
    failed: { kind: 'speaksTls' },
  });
  const closing = createNetServer((socket) => socket.once('data', () => socket.destroy()));
  // The same failure from a plain server that closes each request unanswered: only the handshake tells.
  expect((await registerWith('http', closing)).result).toEqual({
    kind: 'unreachable',
    reason: 'other side closed',
    failed: { kind: 'network' },
  });
});

it('says a server that answered 503 answered, with its message', async () => {
  const { result } = await registerAt('http', (_request, response) => {
    response.statusCode = 503;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ code: 'VK_SHUTTING_DOWN', message: 'the server is shutting down' }));
  });
  expect(result).toEqual({
    kind: 'unreachable',
    reason: 'answered 503: the server is shutting down',
    failed: { kind: 'answered', status: 503 },
  });
});

describe('when fetch gives up waiting for the registration answer', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('says the server took the request, not that it cannot be reached', async () => {
    // What Node's fetch throws after undici's five-minute headersTimeout; five minutes is too long for a test.
    const timeout = Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('fetch failed', { cause: timeout })));
    expect(await registerRunner('http://127.0.0.1:7070', 'tok', info)).toEqual({
      kind: 'unreachable',
      reason: 'took the request but gave no answer within 5 minutes (UND_ERR_HEADERS_TIMEOUT)',
      failed: { kind: 'network' },
    });
  });
});
