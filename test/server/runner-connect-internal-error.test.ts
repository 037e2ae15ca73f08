import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { connectScriptedRunner, credential, oneJobWorkflow, startTestServer } from './helpers.js';
import { runnerUpgradeRefusal, sessionOpenRefusal } from './runner-connect-refusal.js';

// A runner connection whose authentication fails for a reason that is no store outage (a bug) is
// refused as the API refuses a request that met one: 500 VK_INTERNAL, a catalog code, with a message
// that gives nothing of the failure away; the failure itself goes to the server's log.
it("answers an unexpected failure of a runner's authentication 500 VK_INTERNAL, over long-poll and WebSocket, and logs it", async () => {
  const stores = openSqliteStores(join(await mkdtemp(join(tmpdir(), 'valkyrie-auth-bug-')), 'state.db'));
  const logged: unknown[] = [];
  const live = await startTestServer({ stores, logError: (error) => logged.push(error) });
  const runner = await credential(live.request, live.token);
  const bug = new TypeError("Cannot read properties of undefined (reading 'hash') at /srv/secret/path.js");
  vi.spyOn(stores.tokens, 'find').mockRejectedValue(bug);

  const refusals = {
    longPoll: await sessionOpenRefusal(live.server.url, runner),
    webSocket: await runnerUpgradeRefusal(live.server.url, runner),
  };
  const internal = {
    status: 500,
    retryAfter: undefined,
    header: 'VK_INTERNAL',
    body: {
      code: 'VK_INTERNAL',
      message: 'the server failed unexpectedly while authenticating the connection; its log has the details',
    },
  };
  expect(refusals).toEqual({ longPoll: internal, webSocket: internal });
  expect(logged).toEqual([bug, bug]);
  // Listed among the session open's answers, as every answer of a long-poll route is.
  const doc = (await live.request('GET', '/api/v1/openapi.json', { token: null })).body as {
    paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
  };
  expect(doc.paths['/api/v1/runner/poll/sessions']?.post?.responses['500']?.description).toMatch(
    /^VK_INTERNAL: /,
  );
});

// Once the server began to shut down, a connection is refused as one that came after, whatever its
// check came to (runner-connect-store-outage.test.ts): a bug too, which the log still gets.
it('answers a failure that is no store outage 503 VK_SHUTTING_DOWN once the server began to shut down, and logs it', async () => {
  const stores = openSqliteStores(join(await mkdtemp(join(tmpdir(), 'valkyrie-auth-bug-')), 'state.db'));
  const logged: unknown[] = [];
  const live = await startTestServer({
    stores,
    drainTimeoutMs: 60_000,
    logError: (error) => logged.push(error),
  });
  // A job running on a runner keeps the server draining, its protocol endpoints open.
  const busy = await connectScriptedRunner(live.server.url, await credential(live.request, live.token), 1);
  await live.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
  await busy.leases(1);
  const runner = await credential(live.request, live.token);
  const bug = new TypeError("Cannot read properties of undefined (reading 'hash')");
  const held: (() => void)[] = [];
  vi.spyOn(stores.tokens, 'find').mockImplementation(async () => {
    await new Promise<void>((resolve) => held.push(resolve));
    throw bug;
  });
  const longPoll = sessionOpenRefusal(live.server.url, runner);
  const webSocket = runnerUpgradeRefusal(live.server.url, runner);
  while (held.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  void live.server.close();
  for (const release of held) release();

  const shuttingDown = {
    status: 503,
    retryAfter: '5',
    header: 'VK_SHUTTING_DOWN',
    body: { code: 'VK_SHUTTING_DOWN', message: expect.any(String) },
  };
  expect({ longPoll: await longPoll, webSocket: await webSocket }).toEqual({
    longPoll: shuttingDown,
    webSocket: shuttingDown,
  });
  expect(logged).toEqual([bug, bug]);
  // Else the drain waits for the job.
  await live.server.destroy();
});
