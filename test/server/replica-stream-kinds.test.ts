import { expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import {
  connectScriptedRunner,
  credential,
  openEvents,
  startTestServer,
  type TestServer,
} from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

type Streamed = [string, unknown, string | undefined];
const eventOf = ([, data]: Streamed) => data as RunEvent;

async function readAll(url: string, token: string): Promise<() => Promise<RunEvent[]>> {
  const stream = await openEvents(url, token);
  return async () => {
    const events: RunEvent[] = [];
    for (let event = await stream.next(); event !== undefined; event = await stream.next())
      events.push(eventOf(event));
    return events;
  };
}

async function submit(server: TestServer, workflow: string): Promise<string> {
  const created = await server.request('POST', '/api/v1/runs', { body: { workflow, vars: { env: 'prod' } } });
  expect(created.status).toBe(201);
  return (created.body as { run: { id: string } }).run.id;
}

const flaky = `name: flaky
jobs:
  greet:
    runs-on: linux
    retry: {max-attempts: 2, delay: 300ms}
    steps:
      - run: ./greet
`;

const deploy = `name: deploy
concurrency:
  group: deploy-\${{ vars.env }}
jobs:
  ship:
    runs-on: linux
    steps:
      - run: ./ship
`;

/**
 * The kinds of events the driver's feed sends that are not rows' states (queueing, retries, a run's
 * place in its concurrency group) reach a client through any replica, from what the driver stores.
 */
function kindScenarios(name: string, openStores: OpenReplicaStores): void {
  const startReplica = async () => startTestServer({ stores: await openStores(), streamPollIntervalMs: 25 });

  it(`${name}: a retried job's retry and second queueing and attempt show through a replica that does not drive it`, async () => {
    const driver = await startReplica();
    const other = await startReplica();
    const read = await driver.token('read');
    const runId = await submit(driver, flaky);
    const runner = await connectScriptedRunner(
      driver.server.url,
      await credential(driver.request, driver.token),
      1,
    );
    const [first] = await runner.leases(1);
    if (first === undefined) throw new Error('no lease');
    const elsewhere = await readAll(`${other.server.url}/api/v1/runs/${runId}/events`, read);
    const driven = await readAll(`${driver.server.url}/api/v1/runs/${runId}/events`, read);
    const { jobId } = first;
    const end = (lease: typeof first, outcome: { kind: 'succeeded' } | { kind: 'failed'; reason: string }) =>
      runner.transport.send({
        type: 'job.completed',
        jobId,
        fencingToken: lease.fencingToken,
        outcome,
        outputs: {},
        at: 3,
      });
    end(first, { kind: 'failed', reason: 'step ./greet failed with exit code 1' });
    const second = (await runner.leases(2))[1];
    if (second === undefined) throw new Error('no second lease');
    end(second, { kind: 'succeeded' });
    const [fromOther, fromDriver] = await Promise.all([elsewhere(), driven()]);
    const kinds = [
      'run.started',
      'job.queued',
      'job.started',
      'job.retrying',
      'job.queued',
      'job.started',
      'job.completed',
      'run.completed',
    ];
    expect(fromDriver.map((event) => event.type)).toEqual(kinds);
    expect(fromOther.map((event) => event.type)).toEqual(kinds);
    const retrying = {
      type: 'job.retrying',
      jobId,
      attempt: 2,
      delayMs: 300,
      reason: 'step ./greet failed with exit code 1',
    };
    expect(fromOther.find((event) => event.type === 'job.retrying')).toMatchObject(retrying);
    expect(fromDriver.find((event) => event.type === 'job.retrying')).toMatchObject(retrying);
    const queued = fromOther.filter((event) => event.type === 'job.queued');
    expect(queued.map((event) => event.type === 'job.queued' && event.attempt)).toEqual([undefined, 2]);
    // The second queueing waits out the delay, as the driver's says.
    const drivenQueued = fromDriver.filter((event) => event.type === 'job.queued');
    expect(queued[1]).toEqual(drivenQueued[1]);
    expect(fromOther.filter((event) => event.type === 'job.started').at(-1)).toMatchObject({ attempt: 2 });
    expect(fromOther.at(-1)).toMatchObject({ type: 'run.completed', status: 'succeeded' });
    runner.transport.close();
  });

  it(`${name}: a run waiting for its concurrency group shows its place through any replica, and starts there when it has the slot`, async () => {
    const driver = await startReplica();
    const other = await startReplica();
    const read = await driver.token('read');
    const runner = await connectScriptedRunner(
      driver.server.url,
      await credential(driver.request, driver.token),
      2,
    );
    const running = await submit(driver, deploy);
    const [lease] = await runner.leases(1);
    if (lease === undefined) throw new Error('no lease');
    const waiting = await submit(driver, deploy);
    // Open before the run waits (the driver tells its place after a store round trip) or after.
    const elsewhere = await readAll(`${other.server.url}/api/v1/runs/${waiting}/events`, read);
    const driven = await readAll(`${driver.server.url}/api/v1/runs/${waiting}/events`, read);
    await new Promise((resolve) => setTimeout(resolve, 300));
    runner.transport.send({
      type: 'job.completed',
      jobId: lease.jobId,
      fencingToken: lease.fencingToken,
      outcome: { kind: 'succeeded' },
      outputs: {},
      at: 3,
    });
    const next = (await runner.leases(2))[1];
    if (next === undefined || !next.jobId.startsWith(`${waiting}.`))
      throw new Error('the waiting run got no lease');
    runner.transport.send({
      type: 'job.completed',
      jobId: next.jobId,
      fencingToken: next.fencingToken,
      outcome: { kind: 'succeeded' },
      outputs: {},
      at: 4,
    });
    const [fromOther, fromDriver] = await Promise.all([elsewhere(), driven()]);
    const kinds = [
      'concurrency',
      'run.started',
      'job.queued',
      'job.started',
      'job.completed',
      'run.completed',
    ];
    expect(fromOther.map((event) => event.type)).toEqual(kinds);
    expect(fromDriver.map((event) => event.type)).toEqual(kinds);
    const place = { type: 'concurrency', runId: waiting, group: 'deploy-prod', state: 'waiting', ahead: 1 };
    expect(fromOther[0]).toMatchObject(place);
    expect(fromDriver[0]).toMatchObject(place);
    expect(running).not.toBe(waiting);
    runner.transport.close();
  });
}

onBothStores('event kinds across server replicas on one store', kindScenarios);
