import { mkdtemp } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { holdTokenReads } from './held-token-reads.js';
import { oneJobWorkflow, startTestServer } from './helpers.js';

// A client that leaves while its stream's token is checked again (StreamSessions.open) is gone before
// the stream opens: its response's `close` has been emitted already, and a stream waiting for it
// would stay open (in the gauge, the revocation sweep's tokens, the run's feed) until the run ended.
it.each([
  ['the run events', 'events'],
  ['the followed log', 'logs?job=JOB&follow=1'],
])(
  'keeps no event stream open for a client that went away while its token was checked again: %s',
  async (_, path) => {
    const stores = openSqliteStores(join(await mkdtemp(join(tmpdir(), 'valkyrie-stream-gone-')), 'state.db'));
    const live = await startTestServer({ stores });
    // No runner: the job waits, so the stream would not end by itself.
    const created = await live.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const { id, jobs } = (created.body as { run: { id: string; jobs: { id: string }[] } }).run;
    const reader = await live.token('read');
    // The request's own check reads the token first; the stream's, as it opens, second.
    const reads = holdTokenReads(stores, reader.split('.')[1] ?? '', 1);
    const url = `${live.server.url}/api/v1/runs/${id}/${path.replace('JOB', jobs[0]?.id ?? '')}`;
    const request = httpRequest(url, { headers: { authorization: `Bearer ${reader}` } });
    request.on('error', () => undefined);
    request.end();
    await reads.reached(1);
    request.destroy();
    // The server has seen the client go.
    while ((await connections(live.server.app.server)) > 0)
      await new Promise((resolve) => setTimeout(resolve, 10));
    reads.release();
    // The rest of the check and the stream's opening take no I/O (SQLite answers at once): done by now.
    await new Promise((resolve) => setImmediate(resolve));
    expect((await live.request('GET', '/metrics')).text).toMatch(/^valkyrie_event_streams_open 0$/m);
    await live.server.destroy();
  },
);

function connections(server: {
  getConnections(callback: (error: Error | null, count: number) => void): void;
}) {
  return new Promise<number>((resolve, reject) =>
    server.getConnections((error, count) => (error === null ? resolve(count) : reject(error))),
  );
}
