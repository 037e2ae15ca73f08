import { expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  openEvents,
  startTestServer,
  type TestServer,
} from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

type Streamed = [string, unknown, string | undefined];
const eventOf = ([, data]: Streamed) => data as RunEvent;

/** `until`: reads up to that kind of event; `rest`: the events read so far, then the rest to the end. */
async function readAll(
  url: string,
  token: string,
): Promise<{ until(type: RunEvent['type']): Promise<void>; rest(): Promise<RunEvent[]> }> {
  const stream = await openEvents(url, token);
  const events: RunEvent[] = [];
  return {
    async until(type) {
      for (let event = await stream.next(); event !== undefined; event = await stream.next()) {
        events.push(eventOf(event));
        if (eventOf(event).type === type) return;
      }
      throw new Error(`the stream ended before ${type}: ${JSON.stringify(events)}`);
    },
    async rest() {
      for (let event = await stream.next(); event !== undefined; event = await stream.next())
        events.push(eventOf(event));
      return events;
    },
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
    // The store keeps a job's current attempt: the first one is seen there only while it runs.
    await elsewhere.until('job.started');
    const { jobId } = first;
    const end = (lease: typeof first, outcome: { kind: 'succeeded' } | { kind: 'failed'; reason: string }) =>
      runner.transport.send(jobCompleted({ jobId, fencingToken: lease.fencingToken }, outcome, 3));
    end(first, { kind: 'failed', reason: 'step ./greet failed with exit code 1' });
    const second = (await runner.leases(2))[1];
    if (second === undefined) throw new Error('no second lease');
    end(second, { kind: 'succeeded' });
    const fromOther = await elsewhere.rest();
    const kinds = [
      'run.started',
      'job.queued',
      'job.started',
      'log',
      'log',
      'job.retrying',
      'job.queued',
      'job.started',
      'log',
      'job.completed',
      'run.completed',
    ];
    expect(fromOther.map((event) => event.type)).toEqual(kinds);
    const retrying = {
      type: 'job.retrying',
      jobId,
      attempt: 2,
      delayMs: 300,
      reason: 'step ./greet failed with exit code 1',
    };
    expect(fromOther.find((event) => event.type === 'job.retrying')).toMatchObject(retrying);
    // The control plane's line on the retry ends the first attempt's log, through this replica too.
    expect(fromOther[4]).toMatchObject({
      type: 'log',
      stepIndex: -1,
      text: 'attempt 1 of 2 failed (step ./greet failed with exit code 1); retrying in 300ms',
    });
    expect(fromOther[4]).not.toHaveProperty('jobAttempt');
    const queued = fromOther.filter((event) => event.type === 'job.queued');
    expect(queued.map((event) => event.type === 'job.queued' && event.attempt)).toEqual([undefined, 2]);
    // The second queueing waits out the delay (set from the control plane's clock just before it).
    const requeued = queued[1];
    expect(requeued?.type === 'job.queued' && (requeued.notBefore ?? 0) - requeued.at).toBeGreaterThan(200);
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
    // Opened before the run waits (the driver tells its place after a store round trip).
    const elsewhere = await readAll(`${other.server.url}/api/v1/runs/${waiting}/events`, read);
    await elsewhere.until('concurrency');
    runner.transport.send(jobCompleted(lease, { kind: 'succeeded' }, 3));
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
    const fromOther = await elsewhere.rest();
    const kinds = [
      'concurrency',
      'run.started',
      'job.queued',
      'job.started',
      'log',
      'job.completed',
      'run.completed',
    ];
    expect(fromOther.map((event) => event.type)).toEqual(kinds);
    const place = { type: 'concurrency', runId: waiting, group: 'deploy-prod', state: 'waiting', ahead: 1 };
    expect(fromOther[0]).toMatchObject(place);
    expect(running).not.toBe(waiting);
    runner.transport.close();
  });
}

onBothStores('event kinds across server replicas on one store', kindScenarios);
