import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { errorCodeHeader } from '../../src/core/errors.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { holdTokenReads } from './held-token-reads.js';
import { oneJobWorkflow, openEvents, runningJob, startTestServer, type TestServer } from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

type Events = Awaited<ReturnType<typeof openEvents>>;
type Streamed = [string, unknown, string | undefined];

/** Reads a stream to its end, failing when it has not ended within `timeoutMs`: the events read. */
async function readToEnd(events: Events, what: string, timeoutMs = 3_000): Promise<Streamed[]> {
  const seen: Streamed[] = [];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      events.close();
      reject(new Error(`${what} still streams after ${timeoutMs} ms: ${JSON.stringify(seen)}`));
    }, timeoutMs);
  });
  try {
    for (;;) {
      const event = await Promise.race([events.next(), timeout]);
      if (event === undefined) return seen;
      seen.push(event);
    }
  } finally {
    clearTimeout(timer);
  }
}

const idOf = (token: string) => token.split('.')[1] ?? '';

/** A run's events and its job's followed log, on `replica`, with `token`. */
async function openBoth(replica: TestServer, runId: string, jobId: string, token: string) {
  const base = `${replica.server.url}/api/v1/runs/${runId}`;
  return {
    events: await openEvents(`${base}/events`, token),
    logs: await openEvents(`${base}/logs?job=${jobId}&follow=1`, token),
  };
}

it('revoking a token ends the event and log streams open with it: event: error, then the end', async () => {
  const server = await startTestServer();
  const { runId, jobId, log } = await runningJob(server);
  const doomed = await server.token('read');
  const kept = await server.token('read');
  const streams = await openBoth(server, runId, jobId, doomed);
  const others = await openBoth(server, runId, jobId, kept);
  log('before');
  expect((await streams.logs.next())?.[0]).toBe('log');

  expect((await server.request('DELETE', `/api/v1/tokens/${idOf(doomed)}`)).status).toBe(204);
  const error = ['error', { code: 'VK_UNAUTHORIZED', message: `token ${idOf(doomed)} was revoked` }];
  expect((await readToEnd(streams.logs, 'the log stream')).at(-1)?.slice(0, 2)).toEqual(error);
  expect((await readToEnd(streams.events, 'the event stream')).at(-1)?.slice(0, 2)).toEqual(error);
  // Another token's streams go on.
  log('after');
  const texts: unknown[] = [];
  while (texts.at(-1) !== 'after') {
    const event = await others.logs.next();
    if (event === undefined) throw new Error(`the other token's log stream ended: ${texts.join(', ')}`);
    texts.push((event[1] as { text: string }).text);
  }
  expect(texts.slice(-2)).toEqual(['before', 'after']);
  others.events.close();
  others.logs.close();
});

it('a stream ends when the token it was opened with expires', async () => {
  const server = await startTestServer();
  const { runId, jobId } = await runningJob(server);
  const brief = await server.token('read', '1s');
  const streams = await openBoth(server, runId, jobId, brief);
  const error = ['error', { code: 'VK_UNAUTHORIZED', message: `token ${idOf(brief)} has expired` }];
  expect((await readToEnd(streams.logs, 'the log stream')).at(-1)?.slice(0, 2)).toEqual(error);
  expect((await readToEnd(streams.events, 'the event stream')).at(-1)?.slice(0, 2)).toEqual(error);
});

it('refuses 401 a stream whose token was read before it was revoked, as one opened after, for the run events and the followed log', async () => {
  const stores = openSqliteStores(join(await mkdtemp(join(tmpdir(), 'valkyrie-stream-revoke-')), 'state.db'));
  // No sweep within the test: only the check at the stream's opening may refuse it.
  const server = await startTestServer({ stores, runnerSyncIntervalMs: 600_000 });
  const submitted = await server.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
  const run = submitted.body as { run: { id: string; jobs: { id: string }[] } };
  const doomed = await server.token('read');
  // The token's row is read as it was before the revocation, and handed on after it.
  const reads = holdTokenReads(stores, idOf(doomed));
  const base = `${server.server.url}/api/v1/runs/${run.run.id}`;
  const open = (path: string) => fetch(`${base}/${path}`, { headers: { authorization: `Bearer ${doomed}` } });
  const opening = [open('events'), open(`logs?job=${run.run.jobs[0]?.id}&follow=1`)];
  await reads.reached(2);

  expect((await server.request('DELETE', `/api/v1/tokens/${idOf(doomed)}`)).status).toBe(204);
  reads.release();

  const answers = await Promise.all(
    opening.map(async (answer) => {
      const response = await answer;
      const type = response.headers.get('content-type') ?? '';
      // An event stream still open: read no further, it would not end.
      if (type.includes('text/event-stream')) void response.body?.cancel();
      return {
        status: response.status,
        header: response.headers.get(errorCodeHeader),
        body: type.includes('json') ? await response.json() : type,
      };
    }),
  );
  const refused = {
    status: 401,
    header: 'VK_UNAUTHORIZED',
    body: { code: 'VK_UNAUTHORIZED', message: `token ${idOf(doomed)} was revoked` },
  };
  expect(answers).toEqual([refused, refused]);
});

onBothStores('revoking a token on one replica', (name, openStores: OpenReplicaStores) => {
  it(`${name}: ends its streams on another replica within the runner sync interval`, async () => {
    const options = { streamPollIntervalMs: 25, runnerSyncIntervalMs: 50 };
    const driver = await startTestServer({ stores: await openStores(), ...options });
    const other = await startTestServer({ stores: await openStores(), ...options });
    const { runId, jobId } = await runningJob(driver);
    const doomed = await driver.token('read');
    const streams = await openBoth(other, runId, jobId, doomed);
    expect((await driver.request('DELETE', `/api/v1/tokens/${idOf(doomed)}`)).status).toBe(204);
    const error = ['error', { code: 'VK_UNAUTHORIZED', message: `token ${idOf(doomed)} was revoked` }];
    expect((await readToEnd(streams.logs, 'the log stream')).at(-1)?.slice(0, 2)).toEqual(error);
    expect((await readToEnd(streams.events, 'the event stream')).at(-1)?.slice(0, 2)).toEqual(error);
  });
});
