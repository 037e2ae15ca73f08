import { afterAll, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import { startProxy } from '../store/tcp-proxy.js';
import { credential, startTestServer } from './helpers.js';
import { runnerUpgradeRefusal, sessionOpenRefusal } from './runner-connect-refusal.js';

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
      const longPoll = await sessionOpenRefusal(base, runner);
      const webSocket = await runnerUpgradeRefusal(base, runner);
      const storeDown = { status: 503, retryAfter: '5', header: 'VK_STORE' };
      expect({ longPoll, webSocket }).toEqual({
        // The store's reason, as the API's VK_STORE answers carry it.
        longPoll: {
          ...storeDown,
          body: { code: 'VK_STORE', message: expect.stringMatching(/^could not find token \S+: .*Postgres/) },
        },
        webSocket: { ...storeDown, body: { code: 'VK_STORE', message: expect.any(String) } },
      });
    } finally {
      proxy.restore();
    }
  });
});
