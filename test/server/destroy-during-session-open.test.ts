import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { credential, startTestServer } from './helpers.js';
import { runnerUpgradeRefusal, sessionOpenRefusal } from './runner-connect-refusal.js';

// A runner connecting while the server is destroyed, its credential's read still in the store: it is
// told to go elsewhere or come back after the restart, as one that came after is. The long-poll open
// is a plain HTTP request, whose connection the HTTP server's close ends: it must be answered first,
// not dropped (the runner would count a failed request, not a refusal it retries cleanly).
it('answers a runner connection whose check waits on the store as the server is destroyed 503 VK_SHUTTING_DOWN, over long-poll and WebSocket', async () => {
  const stores = openSqliteStores(join(await mkdtemp(join(tmpdir(), 'valkyrie-destroy-open-')), 'state.db'));
  const live = await startTestServer({ stores });
  const runner = await credential(live.request, live.token);
  const find = stores.tokens.find.bind(stores.tokens);
  const held: (() => void)[] = [];
  vi.spyOn(stores.tokens, 'find').mockImplementation(async (id) => {
    await new Promise<void>((resolve) => held.push(resolve));
    return find(id);
  });
  const longPoll = sessionOpenRefusal(live.server.url, runner);
  const webSocket = runnerUpgradeRefusal(live.server.url, runner);
  while (held.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));

  const destroyed = live.server.destroy();
  const answers = {
    longPoll: await longPoll.catch(
      (error: unknown) => `no answer: ${String((error as Error).cause ?? error)}`,
    ),
    webSocket: await webSocket,
  };
  const shuttingDown = {
    status: 503,
    retryAfter: '5',
    header: 'VK_SHUTTING_DOWN',
    body: { code: 'VK_SHUTTING_DOWN', message: expect.any(String) },
  };
  expect(answers).toEqual({ longPoll: shuttingDown, webSocket: shuttingDown });
  for (const release of held) release();
  await destroyed;
});
