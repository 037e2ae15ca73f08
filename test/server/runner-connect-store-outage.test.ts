import { afterAll, expect, it, vi } from 'vitest';
import type { ServerOptions } from '../../src/server/server.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import type { Stores } from '../../src/store/store.js';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import { startProxy } from '../store/tcp-proxy.js';
import { connectScriptedRunner, credential, oneJobWorkflow, startTestServer } from './helpers.js';
import { runnerUpgradeRefusal, sessionOpenRefusal } from './runner-connect-refusal.js';

// A runner connection is authenticated in the store, as an API request is: with the store down, the
// runner is told what every protected route says, 503 VK_STORE with Retry-After, not 500 (a bug).
// Once the server began to shut down it is told that instead, 503 VK_SHUTTING_DOWN, as a connection
// that came after is: it goes to another replica or waits for the restart, not for the store.
describeOnPostgres('a runner connecting while the store is down', () => {
  const schemas: string[] = [];
  const proxies: Awaited<ReturnType<typeof startProxy>>[] = [];
  afterAll(async () => {
    for (const proxy of proxies) await proxy.stop();
    for (const schema of schemas) await dropSchema(schema);
  });

  /** A server on Postgres through a proxy the test can freeze or cut, and a runner credential. */
  async function serverBehindProxy(options: Partial<ServerOptions> = {}) {
    const proxy = await startProxy();
    proxies.push(proxy);
    const schema = uniqueSchema();
    schemas.push(schema);
    const through = new URL(postgresUrl);
    through.port = String(proxy.port);
    const stores = await openPostgresStores(through.href, { schema });
    const live = await startTestServer({ ...options, stores });
    const runner = await credential(live.request, live.token);
    // Seen, not changed: checksWaiting counts its reads.
    vi.spyOn(stores.tokens, 'find');
    return { proxy, stores, live, runner };
  }

  it('is answered 503 VK_STORE with Retry-After, over long-poll and WebSocket, as an API request is', async () => {
    const { proxy, live, runner } = await serverBehindProxy();
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

  const shuttingDown = {
    status: 503,
    retryAfter: '5',
    header: 'VK_SHUTTING_DOWN',
    body: { code: 'VK_SHUTTING_DOWN', message: expect.any(String) },
  };

  /** Resolves once `count` checks of `runner`'s credential have asked the store (serverBehindProxy spies). */
  async function checksWaiting(stores: Stores, runner: string, count: number): Promise<void> {
    const id = runner.split('.')[1];
    const reads = vi.mocked(stores.tokens.find).mock.calls;
    while (reads.filter(([read]) => read === id).length < count)
      await new Promise((resolve) => setTimeout(resolve, 10));
  }

  it('is answered 503 VK_SHUTTING_DOWN, not VK_STORE, when the store fails its check while the server drains', async () => {
    const { proxy, stores, live, runner } = await serverBehindProxy({ drainTimeoutMs: 60_000 });
    // A job running on a runner keeps the server draining, its protocol endpoints and API open.
    const busy = await connectScriptedRunner(live.server.url, await credential(live.request, live.token), 1);
    await live.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    await busy.leases(1);
    proxy.freeze();
    try {
      const longPoll = sessionOpenRefusal(live.server.url, runner);
      const webSocket = runnerUpgradeRefusal(live.server.url, runner);
      await checksWaiting(stores, runner, 2);
      void live.server.close();
      proxy.cut();
      expect({ longPoll: await longPoll, webSocket: await webSocket }).toEqual({
        longPoll: shuttingDown,
        webSocket: shuttingDown,
      });
    } finally {
      proxy.thaw();
      proxy.restore();
      // Else the drain waits for the job.
      await live.server.destroy();
    }
  });
});
