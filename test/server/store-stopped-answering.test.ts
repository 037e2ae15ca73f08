import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { ValkyrieServer } from '../../src/server/server.js';
import { TokenAuthority } from '../../src/server/tokens.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { within } from '../core/race-timeout.js';
import { describeOnPostgres, dropSchema, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import { startProxy } from '../store/tcp-proxy.js';
import { runnerUpgradeRefusal } from './runner-connect-refusal.js';

describeOnPostgres('a server whose Postgres stops answering', () => {
  it('destroy() gives the store up after storeGraceMs and rejects with its error, instead of waiting for ever; a runner whose check waited on it is told VK_SHUTTING_DOWN', async () => {
    const schema = uniqueSchema();
    const proxy = await startProxy();
    const logged: unknown[] = [];
    const dir = await mkdtemp(join(tmpdir(), 'valkyrie-server-'));
    try {
      const through = new URL(postgresUrl);
      through.port = String(proxy.port);
      const stores = await openPostgresStores(through.href, { schema });
      // Not startTestServer: its cleanup's destroy() would fail the test with the store's error.
      const server = await ValkyrieServer.start({
        host: '127.0.0.1',
        port: 0,
        dataDir: dir,
        adminToken: 'test-admin-token',
        stores,
        storeGraceMs: 500,
        // What the steps of destroy() that wait on the store say as the cut fails them.
        logError: (error) => logged.push(error),
      });
      const authority = await TokenAuthority.open(stores.tokens, systemClock);
      const runner = (await authority.create({ role: 'credential' })).token;
      const reads = vi.spyOn(stores.tokens, 'find');
      proxy.freeze();
      // Its check waits on the store until the cut fails it (VK_STORE): the runner is to retry
      // elsewhere or after the restart, as one that came after the shutdown began is told.
      const webSocket = runnerUpgradeRefusal(server.url, runner);
      while (reads.mock.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      const startedAt = Date.now();
      const destroyed = await within(
        server.destroy().then(
          () => undefined,
          (error: unknown) => error,
        ),
        10_000,
        'destroy() to give up on the store',
      );
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(450);
      expect(destroyed).toMatchObject({
        code: 'VK_STORE_UNREACHABLE',
        message: expect.stringContaining(
          `Postgres at 127.0.0.1:${proxy.port} did not answer within 500ms of closing the store, so its connections were cut`,
        ),
      });
      for (const error of logged) expect(error).toMatchObject({ code: expect.stringMatching(/^VK_STORE/) });
      expect(await webSocket).toEqual({
        status: 503,
        retryAfter: '5',
        header: 'VK_SHUTTING_DOWN',
        body: { code: 'VK_SHUTTING_DOWN', message: expect.any(String) },
      });
    } finally {
      proxy.thaw();
      await proxy.stop();
      await dropSchema(schema);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
