import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterAll, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import { startProxy } from '../store/tcp-proxy.js';
import { credential, startTestServer } from './helpers.js';

interface Refusal {
  readonly status: number;
  readonly retryAfter: string | undefined;
  readonly header: string | undefined;
  readonly code: unknown;
}

/** What a runner's WebSocket upgrade to `url` is answered, when it is refused. */
async function upgradeRefusal(url: string, token: string): Promise<Refusal> {
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  socket.on('error', () => undefined);
  const [, response] = (await once(socket, 'unexpected-response')) as [unknown, IncomingMessage];
  let text = '';
  for await (const chunk of response) text += String(chunk);
  socket.terminate();
  return {
    status: response.statusCode ?? 0,
    retryAfter: response.headers['retry-after'],
    header: response.headers['x-valkyrie-error'] as string | undefined,
    code: (JSON.parse(text) as { code?: unknown }).code,
  };
}

// A runner connection is authenticated in the store, as an API request is: with the store down, the
// runner is told what every protected route says, 503 VK_STORE with Retry-After, not 500 (a bug).
describeOnPostgres('a runner connecting while the store is down', () => {
  const schema = uniqueSchema();
  let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;
  afterAll(async () => {
    await proxy?.stop();
    await dropSchema(schema);
  });

  it('is answered 503 VK_STORE with Retry-After, over long-poll and WebSocket, as an API request is', async () => {
    proxy = await startProxy();
    const through = new URL(postgresUrl);
    through.port = String(proxy.port);
    const live = await startTestServer({ stores: await openPostgresStores(through.href, { schema }) });
    const runner = await credential(live.request, live.token);
    const base = live.server.url;
    proxy.cut();
    try {
      const api = await live.request('GET', '/api/v1/runs');
      expect(api).toMatchObject({
        status: 503,
        headers: { 'retry-after': '5', 'x-valkyrie-error': 'VK_STORE' },
        body: { code: 'VK_STORE' },
      });
      const opened = await fetch(`${base}/api/v1/runner/poll/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${runner}` },
      });
      const body = (await opened.json()) as { code?: unknown; message?: unknown };
      const longPoll: Refusal & { message: unknown } = {
        status: opened.status,
        retryAfter: opened.headers.get('retry-after') ?? undefined,
        header: opened.headers.get('x-valkyrie-error') ?? undefined,
        code: body.code,
        message: body.message,
      };
      const webSocket = await upgradeRefusal(`${base.replace('http', 'ws')}/api/v1/runner/ws`, runner);
      const storeDown = { status: 503, retryAfter: '5', header: 'VK_STORE', code: 'VK_STORE' };
      expect({ longPoll, webSocket }).toEqual({
        // The store's reason, as the API's VK_STORE answers carry it.
        longPoll: {
          ...storeDown,
          message: expect.stringMatching(/^could not find token \S+: .*Postgres/),
        },
        webSocket: storeDown,
      });
    } finally {
      proxy.restore();
    }
  });
});
