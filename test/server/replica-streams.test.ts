import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { dropSchema, postgresSkipReason, postgresUrl, uniqueSchema } from '../store/postgres-server.js';
import {
  connectScriptedRunner,
  credential,
  oneJobWorkflow,
  openEvents,
  readEvents,
  startTestServer,
} from './helpers.js';

type Streamed = [string, unknown, string | undefined];
const typeOf = ([, data]: Streamed) => (data as RunEvent).type;
const textOf = ([, data]: Streamed) => (data as { text: string }).text;

/**
 * Two servers on one store, as replicas behind a load balancer: a run's events and a job's log are
 * live on either, whichever drives the run. `freshStore` makes an empty store for one test.
 */
function streamScenarios(name: string, freshStore: () => () => Promise<Stores>): void {
  let openStores: () => Promise<Stores> = () => Promise.reject(new Error('no store outside a test'));
  beforeEach(() => {
    openStores = freshStore();
  });
  const startReplica = async () => startTestServer({ stores: await openStores(), streamPollIntervalMs: 25 });

  it(`${name}: a replica that does not drive a run streams its events and a job's log live until it ends`, async () => {
    const driver = await startReplica();
    const other = await startReplica();
    const read = await driver.token('read');
    const created = await driver.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const { run } = created.body as { run: { id: string } };
    const runner = await connectScriptedRunner(
      driver.server.url,
      await credential(driver.request, driver.token),
      1,
    );
    const [lease] = await runner.leases(1);
    if (lease === undefined) throw new Error('no lease');
    const { jobId, fencingToken } = lease;
    const log = (text: string) =>
      runner.transport.send({
        type: 'log',
        jobId,
        fencingToken,
        entries: [{ stepIndex: 0, stream: 'stdout', at: 1, text }],
      });

    const events = await openEvents(`${other.server.url}/api/v1/runs/${run.id}/events`, read);
    const seen: Streamed[] = [];
    const take = async () => {
      const event = await events.next();
      if (event === undefined) throw new Error(`the stream ended early: ${JSON.stringify(seen)}`);
      seen.push(event);
      return event;
    };
    expect(typeOf(await take())).toBe('run.started');
    expect(typeOf(await take())).toBe('job.started');
    // Open (its headers came) before any line exists, so it can only be following.
    const logs = await openEvents(
      `${other.server.url}/api/v1/runs/${run.id}/logs?job=${jobId}&follow=1`,
      read,
    );
    log('one');
    expect(await take()).toEqual([
      'run',
      expect.objectContaining({ type: 'log', text: 'one', jobId }),
      expect.any(String),
    ]);
    log('two');
    runner.transport.send({
      type: 'job.completed',
      jobId,
      fencingToken,
      outcome: { kind: 'succeeded' },
      outputs: {},
      at: 2,
    });
    for (let event = await events.next(); event !== undefined; event = await events.next()) seen.push(event);
    expect(seen.map(typeOf)).toEqual([
      'run.started',
      'job.started',
      'log',
      'log',
      'job.completed',
      'run.completed',
    ]);
    expect(seen.at(-1)?.[1]).toMatchObject({
      status: 'succeeded',
      jobs: [{ name: 'greet', status: 'succeeded' }],
    });
    const lines: Streamed[] = [];
    for (let line = await logs.next(); line !== undefined; line = await logs.next()) lines.push(line);
    expect(lines.map(textOf)).toEqual(['one', 'two']);
    runner.transport.close();
  });

  it(`${name}: a client that comes back with Last-Event-ID continues after it on the driver, and gets the run from the store elsewhere`, async () => {
    const driver = await startReplica();
    const other = await startReplica();
    const read = await driver.token('read');
    const created = await driver.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const { run } = created.body as { run: { id: string } };
    const runner = await connectScriptedRunner(
      driver.server.url,
      await credential(driver.request, driver.token),
      1,
    );
    const [lease] = await runner.leases(1);
    if (lease === undefined) throw new Error('no lease');
    const { jobId, fencingToken } = lease;
    runner.transport.send({
      type: 'log',
      jobId,
      fencingToken,
      entries: [{ stepIndex: 0, stream: 'stdout', at: 1, text: 'one' }],
    });
    const url = `${driver.server.url}/api/v1/runs/${run.id}/events`;
    const first = await openEvents(url, read);
    let last: Streamed | undefined;
    do last = await first.next();
    while (last !== undefined && typeOf(last) !== 'log');
    first.close();
    const lastId = last?.[2] ?? '';
    expect(lastId).not.toBe('');

    const resumed = await openEvents(url, read, { 'last-event-id': lastId });
    expect(await resumed.next()).toEqual(['resumed', { after: lastId }, undefined]);
    runner.transport.send({
      type: 'job.completed',
      jobId,
      fencingToken,
      outcome: { kind: 'succeeded' },
      outputs: {},
      at: 2,
    });
    const after: Streamed[] = [];
    for (let event = await resumed.next(); event !== undefined; event = await resumed.next())
      after.push(event);
    expect(after.map(typeOf)).toEqual(['job.completed', 'run.completed']);

    // Another replica's feed never had that id: it replays the run from the store, logs included.
    const elsewhere = await readEvents(`${other.server.url}/api/v1/runs/${run.id}/events`, read, {
      'last-event-id': lastId,
    });
    expect(elsewhere.map(typeOf)).toEqual([
      'run.started',
      'job.started',
      'log',
      'job.completed',
      'run.completed',
    ]);
    expect(elsewhere.some(([event]) => event === 'resumed')).toBe(false);
    runner.transport.close();
  });
}

describe('run streams across server replicas on one store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-replica-streams-'));
  let files = 0;
  streamScenarios('SQLite', () => {
    const path = join(dir, `valkyrie-${++files}.db`);
    return async () => openSqliteStores(path);
  });

  const schemas: string[] = [];
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (postgresSkipReason === undefined) for (const schema of schemas) await dropSchema(schema);
  });
  if (postgresSkipReason !== undefined) {
    it.skip(`Postgres: ${postgresSkipReason}`, () => {});
  } else {
    streamScenarios('Postgres', () => {
      const schema = uniqueSchema();
      schemas.push(schema);
      return () => openPostgresStores(postgresUrl, { schema });
    });
  }
});
