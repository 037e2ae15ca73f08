import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import type { ApiContext } from '../../src/server/context.js';
import type { ValkyrieServer } from '../../src/server/server.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { holdTokenReads } from './held-token-reads.js';
import { credential, oneJobWorkflow, runningJob, startTestServer } from './helpers.js';
import { runnerUpgradeRefusal, sessionOpenRefusal } from './runner-connect-refusal.js';

// A runner connecting, or an event stream opening, while the server is destroyed, its token's read
// still in the store: it is told to go elsewhere or come back after the restart, as one that came
// after is. A long-poll open and a stream are plain HTTP requests, whose connections the HTTP
// server's close ends: they must be answered first, not dropped (a runner would count a failed
// request, not a refusal it retries cleanly).
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

it("answers an event stream whose token's check at its opening waits on the store as the server is destroyed 503 VK_SHUTTING_DOWN", async () => {
  const stores = openSqliteStores(join(await mkdtemp(join(tmpdir(), 'valkyrie-destroy-open-')), 'state.db'));
  const live = await startTestServer({ stores });
  const submitted = await live.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
  const runId = (submitted.body as { run: { id: string } }).run.id;
  const reader = await live.token('read');
  const id = reader.split('.')[1];
  const find = stores.tokens.find.bind(stores.tokens);
  const held: (() => void)[] = [];
  let reads = 0;
  // The request's own check reads the token first; the stream's, as it opens, second.
  vi.spyOn(stores.tokens, 'find').mockImplementation(async (read) => {
    if (read === id && ++reads === 2) await new Promise<void>((resolve) => held.push(resolve));
    return find(read);
  });
  const opened = fetch(`${live.server.url}/api/v1/runs/${runId}/events`, {
    headers: { authorization: `Bearer ${reader}` },
  });
  while (held.length < 1) await new Promise((resolve) => setTimeout(resolve, 10));

  const destroyed = live.server.destroy();
  const answer = await opened.then(
    async (response) => ({
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: await response.json(),
    }),
    (error: unknown) => `no answer: ${String((error as Error).cause ?? error)}`,
  );
  expect(answer).toEqual({
    status: 503,
    retryAfter: '5',
    body: { code: 'VK_SHUTTING_DOWN', message: expect.any(String) },
  });
  for (const release of held) release();
  await destroyed;
});

// An API request whose token check (registerRoutes) still reads the store as the server is destroyed
// is answered as one that came after, not cut unanswered by the HTTP server's close: its client asks
// again (retry-wait.ts), as nothing of the route ran.
it("answers API requests whose token's check waits on the store as the server is destroyed 503 VK_SHUTTING_DOWN", async () => {
  const stores = openSqliteStores(
    join(await mkdtemp(join(tmpdir(), 'valkyrie-destroy-request-')), 'state.db'),
  );
  const live = await startTestServer({ stores });
  const admin = await live.token('admin');
  const reader = (await live.token('read')).split('.')[1] ?? '';
  const reads = holdTokenReads(stores, admin.split('.')[1] ?? '');
  const headers = { authorization: `Bearer ${admin}` };
  const answered = (response: Promise<Response>) =>
    response.then(
      async (answer) => ({
        status: answer.status,
        retryAfter: answer.headers.get('retry-after'),
        body: await answer.json(),
      }),
      (error: unknown) => `no answer: ${String((error as Error).cause ?? error)}`,
    );
  const list = answered(fetch(`${live.server.url}/api/v1/runs`, { headers }));
  const revoke = answered(fetch(`${live.server.url}/api/v1/tokens/${reader}`, { method: 'DELETE', headers }));
  await reads.reached(2);

  const destroyed = live.server.destroy();
  const shuttingDown = {
    status: 503,
    retryAfter: '5',
    body: { code: 'VK_SHUTTING_DOWN', message: expect.any(String) },
  };
  expect({ list: await list, revoke: await revoke }).toEqual({ list: shuttingDown, revoke: shuttingDown });
  reads.release();
  await destroyed;
});

// The drain is no destroy: a request that passed the closing check before it began is served once its
// token check comes back, while the drain waits for a running job.
it("serves during the drain an API request whose token's check was waiting on the store when close() began", async () => {
  const stores = openSqliteStores(join(await mkdtemp(join(tmpdir(), 'valkyrie-drain-request-')), 'state.db'));
  const live = await startTestServer({ stores, drainTimeoutMs: 30_000 });
  const job = await runningJob(live);
  const reader = await live.token('read');
  const reads = holdTokenReads(stores, reader.split('.')[1] ?? '');
  const run = fetch(`${live.server.url}/api/v1/runs/${job.runId}`, {
    headers: { authorization: `Bearer ${reader}` },
  });
  await reads.reached(1);

  const closed = live.server.close();
  reads.release();
  expect((await run).status).toBe(200);
  job.succeed();
  expect(await closed).toEqual({ jobsLeftRunning: 0 });
});

// The 503 goes out through the app's async onSend hook, and Fastify tells a reply sent only once its
// response has ended: a token check that comes back in between found the reply unsent, and its
// route ran (the token revoked) under the 503 that told the client nothing had. Its read is let go
// as the step just before refuseAll() ends, so that the check comes back in that very window.
it('runs nothing of a request answered 503 as the server is destroyed, even when its token check comes back as the 503 goes', async () => {
  const stores = openSqliteStores(join(await mkdtemp(join(tmpdir(), 'valkyrie-destroy-race-')), 'state.db'));
  const live = await startTestServer({ stores });
  const admin = await live.token('admin');
  const reader = (await live.token('read')).split('.')[1] ?? '';
  const reads = holdTokenReads(stores, admin.split('.')[1] ?? '');
  const revoke = vi.spyOn(stores.tokens, 'revoke');
  releaseAsTheRefusalGoes(live.server, reads.release);
  const status = fetch(`${live.server.url}/api/v1/tokens/${reader}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${admin}` },
  }).then(
    (answer) => answer.status,
    (error: unknown) => `no answer: ${String((error as Error).cause ?? error)}`,
  );
  await reads.reached(1);

  await live.server.destroy();
  expect({ status: await status, revoked: revoke.mock.calls.length }).toEqual({ status: 503, revoked: 0 });
});

// The same window, the check failing just before refuseAll(): its 401, still in the onSend hook, was
// answered 503 over, and the client got the 503's body under status 401 (`401 VK_SHUTTING_DOWN`).
// It came back first, so it is answered as usual: its own 401, whole.
it('answers its own 401, whole, a request whose token check fails as the 503s of destroy() go', async () => {
  const stores = openSqliteStores(join(await mkdtemp(join(tmpdir(), 'valkyrie-destroy-401-')), 'state.db'));
  const live = await startTestServer({ stores });
  const reader = await live.token('read');
  const id = reader.split('.')[1] ?? '';
  await live.request('DELETE', `/api/v1/tokens/${id}`);
  const reads = holdTokenReads(stores, id);
  releaseAsTheRefusalGoes(live.server, reads.release);
  const status = fetch(`${live.server.url}/api/v1/runs`, {
    headers: { authorization: `Bearer ${reader}` },
  }).then(
    async (answer) => `${answer.status} ${((await answer.json()) as { code: string }).code}`,
    (error: unknown) => `no answer: ${String((error as Error).cause ?? error)}`,
  );
  await reads.reached(1);

  await live.server.destroy();
  expect(await status).toBe('401 VK_UNAUTHORIZED');
});

/** Lets the held reads go as the step just before refuseAll() ends: the check comes back as the 503 goes. */
function releaseAsTheRefusalGoes(server: ValkyrieServer, release: () => void): void {
  const { streamSessions } = (server as unknown as { context: ApiContext }).context;
  const close = streamSessions.close.bind(streamSessions);
  vi.spyOn(streamSessions, 'close').mockImplementation(async () => {
    release();
    close();
    // One turn of the queue more: the check's own turns to the hook's end then meet the 503's.
    await Promise.resolve();
  });
}
