import { expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import { openEvents, readEvents, runningJob, startTestServer } from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

type Streamed = [string, unknown, string | undefined];
const typeOf = ([, data]: Streamed) => (data as RunEvent).type;
const textOf = ([, data]: Streamed) => (data as { text: string }).text;
/** The system line a fleet job's log starts with (job-records.ts). */
const onRunner = /^running on runner scripted \([0-9a-f]{12}\)$/;

/**
 * Two servers on one store, as replicas behind a load balancer: a run's events and a job's log are
 * live on either, whichever drives the run. `freshStore` makes an empty store for one test.
 */
function streamScenarios(name: string, openStores: OpenReplicaStores): void {
  const startReplica = async () => startTestServer({ stores: await openStores(), streamPollIntervalMs: 25 });

  it(`${name}: a replica that does not drive a run streams its events, steps included, and a job's log live until it ends`, async () => {
    const driver = await startReplica();
    const other = await startReplica();
    const read = await driver.token('read');
    const { runId, runner, jobId, fencingToken, log, succeed } = await runningJob(driver);
    const run = { id: runId };
    runner.transport.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 'say hello', at: 1 });
    const events = await openEvents(`${other.server.url}/api/v1/runs/${run.id}/events`, read);
    const seen: Streamed[] = [];
    const take = async () => {
      const event = await events.next();
      if (event === undefined) throw new Error(`the stream ended early: ${JSON.stringify(seen)}`);
      seen.push(event);
      return event;
    };
    expect(typeOf(await take())).toBe('run.started');
    expect((await take())[1]).toMatchObject({ type: 'job.queued', jobId, name: 'greet', priority: 'normal' });
    expect(typeOf(await take())).toBe('job.started');
    expect(textOf(await take())).toMatch(onRunner);
    expect((await take())[1]).toMatchObject({ type: 'step.started', jobId, index: 0, step: 'say hello' });
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
      type: 'step.completed',
      jobId,
      fencingToken,
      step: {
        index: 0,
        name: 'say hello',
        outcome: 'success',
        conclusion: 'success',
        exitCode: 0,
        finishedAt: 2,
      },
    });
    succeed();
    for (let event = await events.next(); event !== undefined; event = await events.next()) seen.push(event);
    const kinds = [
      'run.started',
      'job.queued',
      'job.started',
      'log',
      'step.started',
      'log',
      'log',
      'step.completed',
      'job.completed',
      'run.completed',
    ];
    expect(seen.map(typeOf)).toEqual(kinds);
    expect(seen.find((event) => typeOf(event) === 'step.completed')?.[1]).toMatchObject({
      jobId,
      step: { index: 0, name: 'say hello', conclusion: 'success', exitCode: 0 },
    });
    expect(seen.at(-1)?.[1]).toMatchObject({
      status: 'succeeded',
      jobs: [{ name: 'greet', status: 'succeeded' }],
    });
    const lines: Streamed[] = [];
    for (let line = await logs.next(); line !== undefined; line = await logs.next()) lines.push(line);
    expect(lines.slice(0, -1).map(textOf)).toEqual([expect.stringMatching(onRunner), 'one', 'two']);
    const end = [
      'end',
      expect.objectContaining({ type: 'job.completed', jobId, status: 'succeeded' }),
      undefined,
    ];
    expect(lines.at(-1)).toEqual(end);
    // Asked after the job ended, either replica replays its lines and closes with the same event.
    for (const replica of [driver, other]) {
      const replayed = await readEvents(
        `${replica.server.url}/api/v1/runs/${run.id}/logs?job=${jobId}&follow=1`,
        read,
      );
      expect(replayed.map(([event]) => event)).toEqual(['log', 'log', 'log', 'end']);
      expect(replayed.at(-1)).toEqual(end);
    }
    runner.transport.close();
  });

  it(`${name}: a client that comes back with Last-Event-ID continues after it on the driver, and gets the run from the store elsewhere`, async () => {
    const driver = await startReplica();
    const other = await startReplica();
    const read = await driver.token('read');
    const { runId, runner, log, succeed } = await runningJob(driver);
    const run = { id: runId };
    log('one');
    const url = `${driver.server.url}/api/v1/runs/${run.id}/events`;
    const first = await openEvents(url, read);
    let last: Streamed | undefined;
    do last = await first.next();
    while (last !== undefined && !(typeOf(last) === 'log' && textOf(last) === 'one'));
    first.close();
    const lastId = last?.[2] ?? '';
    expect(lastId).not.toBe('');

    const resumed = await openEvents(url, read, { 'last-event-id': lastId });
    expect(await resumed.next()).toEqual(['resumed', { after: lastId }, undefined]);
    succeed();
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
      'job.queued',
      'job.started',
      'log',
      'log',
      'job.completed',
      'run.completed',
    ]);
    expect(elsewhere.some(([event]) => event === 'resumed')).toBe(false);
    runner.transport.close();
  });
}

onBothStores('run streams across server replicas on one store', streamScenarios);
