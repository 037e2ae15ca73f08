import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from '../../src/cli/api-client.js';
import { ApiRequestError, throwUnlessOk } from '../../src/cli/api-error-answer.js';
import { serverBaseUrl, serverGiven } from '../../src/cli/client-flags.js';
import { UsageError } from '../../src/cli/exit-codes.js';
import { ServerClient } from '../../src/cli/server-client.js';
import { ValkyrieError } from '../../src/core/errors.js';

async function refusal(response: Response): Promise<ApiRequestError> {
  const error = await throwUnlessOk(response).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof ApiRequestError))
    throw new Error(`expected an ApiRequestError, got ${String(error)}`);
  return error;
}

describe('serverGiven', () => {
  it('refuses a --token flag with no server, rather than reading the local store as if the server had no runs', () => {
    expect(() => serverGiven({ token: 'vkt.a.b' }, {})).toThrow(UsageError);
    expect(() => serverGiven({ token: 'vkt.a.b' }, {})).toThrow(/--token is for a server/);
  });

  it('takes an exported VALKYRIE_TOKEN, or a --token beside a local store, as no reason to refuse', () => {
    expect(serverGiven({}, { VALKYRIE_TOKEN: 'vkt.a.b' })).toBe(false);
    expect(serverGiven({ token: 'vkt.a.b', stateDir: 'state' }, {})).toBe(false);
    expect(serverGiven({ token: 'vkt.a.b', server: 'http://127.0.0.1:7070' }, {})).toBe(true);
    expect(serverGiven({ token: 'vkt.a.b' }, { VALKYRIE_SERVER: 'http://127.0.0.1:7070' })).toBe(true);
  });

  it('takes a local store flag over an exported VALKYRIE_SERVER, and refuses it beside a --server flag', () => {
    const env = { VALKYRIE_SERVER: 'http://127.0.0.1:7070' };
    expect(serverGiven({ stateDir: 'state' }, env)).toBe(false);
    expect(serverGiven({ db: 'v.db' }, env)).toBe(false);
    // The flag names the exported server: still two stores (it once passed, reading the local one).
    expect(() => serverGiven({ server: env.VALKYRIE_SERVER, stateDir: 'state' }, env)).toThrow(
      /--server names a server, and --state-dir or --db a local store/,
    );
    expect(() => serverGiven({ server: 'http://other:7070', db: 'v.db' }, {})).toThrow(UsageError);
  });
});

describe('throwUnlessOk', () => {
  it('names the code the API gives a bodiless 401 or 403 (the answer to a HEAD request)', async () => {
    const forbidden = await refusal(new Response(null, { status: 403, statusText: 'Forbidden' }));
    expect(forbidden.code).toBe('VK_FORBIDDEN');
    expect(forbidden.message).toBe(
      "VK_FORBIDDEN: the token's role or job does not allow this request; nothing changed",
    );
    const unauthorized = await refusal(new Response(null, { status: 401, statusText: 'Unauthorized' }));
    expect(unauthorized.code).toBe('VK_UNAUTHORIZED');
    expect(unauthorized.message).toMatch(/^VK_UNAUTHORIZED: /);
  });

  it('names the field a refusal was about once: after a message that does not start with it', async () => {
    const answer = (body: object) =>
      refusal(
        new Response(JSON.stringify(body), { status: 400, headers: { 'content-type': 'application/json' } }),
      );
    const leading = await answer({
      code: 'VK_INVALID_REQUEST',
      message: 'body.name: too long',
      path: 'body.name',
    });
    expect(leading.message).toBe('VK_INVALID_REQUEST: body.name: too long');
    const other = await answer({
      code: 'VK_INVALID_INPUT',
      message: 'input "n" is required',
      path: 'body.inputs.n',
    });
    expect(other.message).toBe('VK_INVALID_INPUT: input "n" is required (at body.inputs.n)');
  });

  it('names the flag a refused field was filled from, where the message leads with the field or ends with it', async () => {
    const answer = (body: object) => refusal(new Response(JSON.stringify(body), { status: 400 }));
    const flags = { 'body.name': '--name', 'body.inputs.n': '--input' };
    const leading = await answer({
      code: 'VK_INVALID_REQUEST',
      message: 'body.name: too long',
      path: 'body.name',
    });
    expect(leading.namingFlags(flags)).toMatchObject({
      message: 'VK_INVALID_REQUEST: --name: too long',
      status: 400,
      code: 'VK_INVALID_REQUEST',
      body: { path: '--name' },
    });
    const trailing = await answer({
      code: 'VK_INVALID_INPUT',
      message: 'input "n" is required',
      path: 'body.inputs.n',
    });
    expect(trailing.namingFlags(flags).message).toBe('VK_INVALID_INPUT: input "n" is required (at --input)');
    const unmapped = await answer({
      code: 'VK_INVALID_REQUEST',
      message: 'body.role: no',
      path: 'body.role',
    });
    expect(unmapped.namingFlags(flags)).toBe(unmapped);
    // A path that is a key of every object is not a flag.
    const inherited = await answer({
      code: 'VK_INVALID_REQUEST',
      message: 'constructor: no',
      path: 'constructor',
    });
    expect(inherited.namingFlags(flags)).toBe(inherited);
  });

  it("keeps the server's own code and message when the answer has them", async () => {
    const body = JSON.stringify({ code: 'VK_FORBIDDEN', message: 'the token lacks the submit role' });
    const error = await refusal(new Response(body, { status: 403 }));
    expect(error.message).toBe('VK_FORBIDDEN: the token lacks the submit role');
  });

  it('keeps the status text of another bodiless answer', async () => {
    const error = await refusal(new Response(null, { status: 502, statusText: 'Bad Gateway' }));
    expect(error.code).toBe('VK_SERVER_RESPONSE');
    expect(error.message).toBe('Bad Gateway');
  });

  it("says a proxy's HTML error page in one line, by its title", async () => {
    const page =
      '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<h1>502 Bad Gateway</h1>\r\n</body>\r\n</html>\r\n';
    const error = await refusal(new Response(page, { status: 502, statusText: 'Bad Gateway' }));
    expect(error.message).toBe('Bad Gateway: 502 Bad Gateway (an HTML page, not a Valkyrie API answer)');
  });
});

describe('ApiClient', () => {
  it('says a port fetch never connects to is refused by fetch, not unreachable for another reason', async () => {
    const client = new ApiClient('http://127.0.0.1:1', undefined);
    await expect(client.fetch('GET', '/healthz')).rejects.toThrow(
      'cannot reach the Valkyrie server at http://127.0.0.1:1: fetch refuses to connect to that port (a blocked port); use another',
    );
  });

  describe('when fetch gives up waiting for an answer', () => {
    afterEach(() => vi.unstubAllGlobals());

    it('says the server took the request, not that it cannot be reached', async () => {
      // The error Node's fetch throws after undici's five-minute headersTimeout (seen by hand after 301 s
      // against a server that accepted the request and never answered); five minutes is too long for a test.
      const timeout = Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
      vi.stubGlobal('fetch', () => Promise.reject(new TypeError('fetch failed', { cause: timeout })));
      const error = await new ApiClient('http://127.0.0.1:7070', undefined)
        .fetch('GET', '/api/v1/runs')
        .catch((thrown: unknown) => thrown);
      expect((error as ValkyrieError).code).toBe('VK_SERVER_UNREACHABLE');
      expect((error as Error).message).toBe(
        'the Valkyrie server at http://127.0.0.1:7070 took the request but gave no answer within 5 minutes (UND_ERR_HEADERS_TIMEOUT)',
      );
    });
  });
});

describe('serverBaseUrl', () => {
  it('refuses a port fetch never connects to, at once, instead of a runner retrying it for ever', () => {
    for (const url of ['http://127.0.0.1:6000', 'https://ci.example:6667/base/'])
      expect(() => serverBaseUrl(url)).toThrow(UsageError);
    expect(() => serverBaseUrl('http://127.0.0.1:6000')).toThrow(
      '--server: port 6000 is one that fetch never connects to (a blocked port), received "http://127.0.0.1:6000"; run the server on another port',
    );
    expect(serverBaseUrl('http://127.0.0.1:7070/')).toBe('http://127.0.0.1:7070');
    expect(serverBaseUrl('https://ci.example/base/')).toBe('https://ci.example/base');
  });

  // Every request adds /api/v1/… itself: `no route GET /api/v1/api/v1/runs` said nothing useful.
  it("refuses a path of the server's own, naming the address to use", () => {
    expect(() => serverBaseUrl('http://127.0.0.1:7070/api/v1')).toThrow(
      `--server is the server's address, which the API's paths are added to: drop "/api/v1" (received "http://127.0.0.1:7070/api/v1"; try http://127.0.0.1:7070)`,
    );
    for (const [url, base] of [
      ['https://ci.example/valkyrie/api/v1/runs/', 'https://ci.example/valkyrie'],
      ['http://127.0.0.1:7070/healthz', 'http://127.0.0.1:7070'],
    ] as const)
      expect(() => serverBaseUrl(url)).toThrow(`try ${base})`);
    // A prefix a reverse proxy serves the server under is an address.
    expect(serverBaseUrl('https://ci.example/api-gateway/')).toBe('https://ci.example/api-gateway');
  });

  // `--server 127.0.0.1:7070` reads as a URL of scheme "127.0.0.1:": the message says what to give.
  it('suggests http:// for an address given without its scheme', () => {
    expect(() => serverBaseUrl('127.0.0.1:7070')).toThrow(
      '--server must be an http:// or https:// URL, received "127.0.0.1:7070"; try http://127.0.0.1:7070',
    );
    expect(() => ApiClient.fromFlags({}, { VALKYRIE_SERVER: 'ci.example:7070/valkyrie/' })).toThrow(
      'VALKYRIE_SERVER must be an http:// or https:// URL, received "ci.example:7070/valkyrie/"; try http://ci.example:7070/valkyrie',
    );
    // Another scheme is a mistake of its own: no guess.
    expect(() => serverBaseUrl('ftp://ci.example')).toThrow(/received "ftp:\/\/ci\.example"$/);
  });

  // A systemd unit or CI job that sets VALKYRIE_SERVER has no --server to look for.
  it('names VALKYRIE_SERVER, not --server, when the URL came from it', () => {
    expect(() => ApiClient.fromFlags({}, { VALKYRIE_SERVER: 'htp://x' })).toThrow(
      'VALKYRIE_SERVER must be an http:// or https:// URL, received "htp://x"',
    );
    expect(() => ApiClient.fromFlags({ server: 'htp://x' }, { VALKYRIE_SERVER: 'http://ok' })).toThrow(
      '--server must be an http:// or https:// URL, received "htp://x"',
    );
  });
});

describe('ServerClient.hasBundle', () => {
  // The route answers 404 for a bundle it lacks; the router 404 VK_NOT_FOUND for a path it lacks (a
  // --server with a prefix no Valkyrie server is under), which an upload would only meet again.
  it("takes the route's 404 for an absent bundle, and the router's for a wrong address", async () => {
    const server = createHttpServer((request, response) => {
      const routed = request.url?.startsWith('/valkyrie/') === true;
      response.writeHead(404, routed ? {} : { 'x-valkyrie-error': 'VK_NOT_FOUND' }).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const at = (path: string) => new ServerClient(new ApiClient(`http://127.0.0.1:${port}${path}`, 'tok'));
      expect(await at('/valkyrie').hasBundle('a'.repeat(64))).toBe(false);
      await expect(at('/elsewhere').hasBundle('a'.repeat(64))).rejects.toThrow(
        `VK_NOT_FOUND: http://127.0.0.1:${port}/elsewhere has no route for the bundle check: is --server the address of a Valkyrie server?`,
      );
    } finally {
      server.close();
    }
  });
});

describe('ApiClient against a server of the other scheme', () => {
  it('says an https:// URL reached a plain-HTTP server, and names the http:// URL to try', async () => {
    const server = createHttpServer((_request, response) => response.end('{}'));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    try {
      const client = new ApiClient(`https://127.0.0.1:${port}`, undefined);
      const error = await client.fetch('GET', '/api/v1/runs/1').catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(ValkyrieError);
      expect((error as ValkyrieError).code).toBe('VK_SERVER_UNREACHABLE');
      expect((error as Error).message).toBe(
        `the server at https://127.0.0.1:${port} does not answer TLS (ERR_SSL_WRONG_VERSION_NUMBER): it looks like a plain-HTTP server; try http://127.0.0.1:${port}`,
      );
      expect((error as Error).message).not.toMatch(/SSL routines|openssl/);
    } finally {
      server.close();
    }
  });

  it('says an http:// URL reached a TLS server, and names the https:// URL to try', async () => {
    const fixtures = new URL('../fixtures/tls/', import.meta.url);
    const server = createHttpsServer(
      { key: readFileSync(new URL('key.pem', fixtures)), cert: readFileSync(new URL('cert.pem', fixtures)) },
      (_request, response) => response.end('{}'),
    );
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.address() as AddressInfo;
    try {
      const client = new ApiClient(`http://127.0.0.1:${port}`, undefined);
      await expect(client.fetch('GET', '/api/v1/runs/1')).rejects.toThrow(
        `the server at http://127.0.0.1:${port} closed the connection: it answers TLS, not plain HTTP; try https://127.0.0.1:${port}`,
      );
    } finally {
      server.close();
    }
  });
});
