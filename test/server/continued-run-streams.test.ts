import { expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import { clockAhead, takenOverBy } from './clock-ahead.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  logLine,
  openEvents,
  readEvents,
  startTestServer,
  type TestServer,
} from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

// docs/server.md "Run events": a new client of a run's event stream gets the whole run on any
// replica — also on the one that took it over, whose own events of it begin at the takeover.

/** `second` runs on a label only the runner of the replica that takes the run over has. */
const workflow = `name: two
jobs:
  first: { runs-on: linux, steps: [{ run: echo first }] }
  second: { runs-on: later, needs: [first], steps: [{ run: echo second }] }
`;

/** Polls until `first` has ended succeeded and its line is stored, as the API of `server` reads them. */
async function firstStored(server: TestServer, runId: string, jobId: string): Promise<void> {
  for (let tries = 0; tries < 250; tries++) {
    const { run } = (await server.request('GET', `/api/v1/runs/${runId}`)).body as {
      run: { jobs: { name: string; status: string }[] };
    };
    const lines = (await server.request('GET', `/api/v1/runs/${runId}/log-lines?job=${jobId}`)).body as {
      lines: { text: string }[];
    };
    const ended = run.jobs.find((job) => job.name === 'first')?.status === 'succeeded';
    if (ended && lines.lines.some((line) => line.text === 'before the takeover')) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`job first of run ${runId} was not stored as ended`);
}

/** The events a client shows of each job attempt: starts, lines, ends; and the run's. */
function shown(events: readonly RunEvent[]): string[] {
  const labels: string[] = [];
  for (const event of events) {
    if (event.type === 'run.started') labels.push('run.started');
    if (event.type === 'run.completed') labels.push(`run.completed ${event.status}`);
    if (event.type === 'job.started') labels.push(`${event.name} a${event.attempt ?? 1} started`);
    if (event.type === 'job.completed') labels.push(`${event.name} a${event.attempt ?? 1} ${event.status}`);
    if (event.type === 'log' && event.stream === 'stdout')
      labels.push(`${event.job} a${event.jobAttempt ?? 1}: ${event.text}`);
  }
  return labels;
}

const eventsOf = (streamed: [string, unknown, string | undefined][]) =>
  streamed.map(([, data]) => data as RunEvent);

/** The rest of an open stream's events, to its end. */
async function drain(stream: Awaited<ReturnType<typeof openEvents>>): Promise<RunEvent[]> {
  const events: RunEvent[] = [];
  for (let event = await stream.next(); event !== undefined; event = await stream.next())
    events.push(event[1] as RunEvent);
  return events;
}

function takeoverScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a new client of the replica that took a run over gets the run from its start, not from the takeover`, async () => {
    const first = await startTestServer({ stores: await openStores(), streamPollIntervalMs: 25 });
    const created = await first.request('POST', '/api/v1/runs', { body: { workflow } });
    expect(created.status).toBe(201);
    const runId = (created.body as { run: { id: string } }).run.id;
    const early = await connectScriptedRunner(
      first.server.url,
      await credential(first.request, first.token),
      1,
    );
    const [lease] = await early.leases(1);
    if (lease === undefined) throw new Error('no lease for first');
    early.transport.send(logLine(lease, 'before the takeover'));
    early.transport.send(jobCompleted(lease, { kind: 'succeeded' }));
    await firstStored(first, runId, lease.jobId);
    early.transport.close();
    await first.server.destroy();

    // 10 s ahead: the run's heartbeat, last written by the first replica, is stale at its first sweep.
    const clock = clockAhead(10_000);
    const stores = await openStores();
    const second = await startTestServer({
      stores,
      clock,
      takeoverIntervalMs: 100,
      streamPollIntervalMs: 25,
    });
    await takenOverBy(stores, runId, clock);
    const read = await second.token('read');
    const url = `${second.server.url}/api/v1/runs/${runId}/events`;
    const stream = await openEvents(url, read);
    const late = await connectScriptedRunner(
      second.server.url,
      await credential(second.request, second.token),
      1,
      ['later'],
    );
    const [secondLease] = await late.leases(1);
    if (secondLease === undefined) throw new Error('no lease for second');
    late.transport.send(logLine(secondLease, 'after the takeover'));
    late.transport.send(jobCompleted(secondLease, { kind: 'succeeded' }));
    const live = await drain(stream);
    late.transport.close();
    // Before, the stream began at the takeover: run.started, then second's events alone.
    const whole = [
      'run.started',
      'first a1 started',
      'first a1: before the takeover',
      'first a1 succeeded',
      'second a1 started',
      'second a1: after the takeover',
      'second a1 succeeded',
      'run.completed succeeded',
    ];
    expect(shown(live)).toEqual(whole);
    // What a client that comes once the run has finished gets, from the store.
    expect(shown(eventsOf(await readEvents(url, read)))).toEqual(whole);
  }, 30_000);
}

onBothStores('the event stream of a run taken over', takeoverScenario);
