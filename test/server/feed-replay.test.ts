import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import type { RunnerMessage } from '../../src/protocol/messages.js';
import { openEvents, readEvents, runningJob, startTestServer } from './helpers.js';

type Told = [string, unknown, string | undefined];

/** Reads `stream` until `count` events have come. */
async function take(stream: Awaited<ReturnType<typeof openEvents>>, count: number): Promise<Told[]> {
  const told: Told[] = [];
  while (told.length < count) {
    const next = await stream.next();
    if (next === undefined) throw new Error(`the stream ended after ${told.length} events`);
    told.push(next);
  }
  return told;
}

const logsOf = (told: readonly Told[]) =>
  told.map(([, data]) => data as RunEvent).filter((event) => event.type === 'log');

describe('a driven run replayed from its feed', () => {
  it('gives a late subscriber, one resuming with Last-Event-ID, and a replay from the store the events a live subscriber got', async () => {
    const live = await startTestServer();
    const { runId, jobId, fencingToken, runner, succeed } = await runningJob(live);
    const read = await live.token('read');
    const url = `${live.server.url}/api/v1/runs/${runId}/events`;
    // run.started, job.queued, job.started and the line naming the runner so far.
    const first = await openEvents(url, read);
    const told = await take(first, 4);
    const send = (message: RunnerMessage) => runner.transport.send(message);
    const lines = (stepIndex: number, texts: readonly string[]) => {
      // As a runner sends a step's lines: each with the step's attempt, 1 included.
      const entries = texts.map((text) => ({
        stepIndex,
        stream: 'stdout' as const,
        at: 3,
        text,
        attempt: 1,
      }));
      for (let from = 0; from < entries.length; from += 1000)
        send({ type: 'log', jobId, fencingToken, entries: entries.slice(from, from + 1000) });
    };
    send({ type: 'step.started', jobId, fencingToken, index: 0, name: 'build', at: 2 });
    lines(
      0,
      Array.from({ length: 2200 }, (_, i) => `build ${i}`),
    );
    send({ type: 'step.started', jobId, fencingToken, index: 1, name: 'test', at: 3 });
    lines(1, ['test 1', 'test 2']);
    told.push(...(await take(first, 1 + 2200 + 1 + 2)));

    const late = await openEvents(url, read);
    expect(await take(late, told.length)).toEqual(told);
    const after = 4 + 1 + 1500;
    const resumed = await openEvents(url, read, { 'last-event-id': told[after]?.[2] ?? '' });
    expect(await take(resumed, 1)).toEqual([['resumed', { after: told[after]?.[2] }, undefined]]);
    expect(await take(resumed, told.length - after - 1)).toEqual(told.slice(after + 1));

    succeed();
    const rest = await take(first, 2);
    expect(rest.map(([, data]) => (data as RunEvent).type)).toEqual(['job.completed', 'run.completed']);
    expect(await take(late, 2)).toEqual(rest);
    expect(await take(resumed, 2)).toEqual(rest);
    for (const stream of [first, late, resumed]) expect(await stream.next()).toBeUndefined();

    // The run has left the feed: replayed from the store, its lines are the events the feed told.
    const stored = await readEvents(url, read);
    expect(logsOf(stored)).toEqual(logsOf(told));
    expect(logsOf(told)[1]).toEqual({
      type: 'log',
      jobId,
      job: 'greet',
      stepIndex: 0,
      stream: 'stdout',
      text: 'build 0',
      at: 3,
    });
  }, 30_000);
});
