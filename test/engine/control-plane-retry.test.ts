import { describe, expect, it } from 'vitest';
import { ManualClock, settle } from '../core/manual-clock.js';

import {
  planesOnSqlite,
  runRequest as request,
  scriptedRunner,
  parsedWorkflow as workflow,
} from './plane-fixtures.js';

describe('ControlPlane job retries', () => {
  const openPlane = planesOnSqlite('plane-retry');
  const plane = (clock?: ManualClock) => openPlane(clock ? { clock } : {});

  it('with on-runner-lost: fail, retries a job whose runner was lost on another runner, storing both attempts', async () => {
    const { plane: p, stores, events } = plane();
    scriptedRunner(p, (m, send, close) => {
      if (m.type === 'offer') send({ type: 'accept', jobId: m.jobId });
      if (m.type === 'lease') {
        send({
          type: 'step.started',
          jobId: m.jobId,
          fencingToken: m.fencingToken,
          index: 0,
          name: 's',
          at: 1,
        });
        send({
          type: 'log',
          jobId: m.jobId,
          fencingToken: m.fencingToken,
          entries: [{ stepIndex: 0, stream: 'stdout', at: 1, text: 'first runner' }],
        });
        setTimeout(close, 5);
      }
    });
    const handle = await p.startRun(
      workflow(`jobs:
  a:
    runs-on: x
    on-runner-lost: fail
    retry: {max-attempts: 2, delay: 1ms, when: [runner-lost]}
    steps: [{ run: "true" }]
`),
      request,
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    scriptedRunner(p, (m, send) => {
      if (m.type === 'offer') send({ type: 'accept', jobId: m.jobId });
      if (m.type === 'lease') {
        const token = { jobId: m.jobId, fencingToken: m.fencingToken };
        send({ type: 'step.started', ...token, index: 0, name: 's', at: 2 });
        send({ type: 'log', ...token, entries: [{ stepIndex: 0, stream: 'stdout', at: 2, text: 'second' }] });
        send({
          type: 'step.completed',
          ...token,
          step: { index: 0, name: 's', outcome: 'success', conclusion: 'success', finishedAt: 3 },
        });
        send({ type: 'job.completed', ...token, outcome: { kind: 'succeeded' }, outputs: {}, at: 3 });
      }
    });
    expect(await handle.done).toBe('succeeded');
    expect(events.find((e) => e.type === 'job.retrying')).toMatchObject({
      attempt: 2,
      delayMs: 1,
      reason: 'runner_lost: connection reset',
    });
    const [job] = await stores.runs.listJobs(handle.id);
    expect(job).toMatchObject({ status: 'succeeded', attempt: 2 });
    if (!job) throw new Error('no job');
    expect(await stores.runs.listJobAttempts(job.id)).toMatchObject([
      { attempt: 1, status: 'failed', reason: 'runner_lost: connection reset' },
    ]);
    expect((await stores.runs.listSteps(job.id)).map((step) => [step.jobAttempt ?? 1, step.outcome])).toEqual(
      [
        [1, 'cancelled'],
        [2, 'success'],
      ],
    );
    const logs = await stores.logs.read(handle.id);
    expect(logs.map((line) => [line.jobAttempt ?? 1, line.text])).toEqual([
      [1, 'first runner'],
      [1, 'attempt 1 of 2 failed (runner_lost: connection reset); retrying in 1ms'],
      [2, 'second'],
    ]);
  });

  it('offers the next attempt no sooner than the delay after the failed one ended', async () => {
    const clock = new ManualClock();
    const { plane: p, events } = plane(clock);
    let offers = 0;
    scriptedRunner(p, (m, send) => {
      if (m.type === 'offer') {
        offers++;
        send({ type: 'accept', jobId: m.jobId });
      }
      if (m.type === 'lease') {
        const outcome = { kind: 'failed', reason: 'exit 1', exitCode: 1 } as const;
        send({
          type: 'job.completed',
          jobId: m.jobId,
          fencingToken: m.fencingToken,
          outcome,
          outputs: {},
          at: 1,
        });
      }
    });
    const handle = await p.startRun(
      workflow(
        'jobs:\n  a: { runs-on: x, retry: {max-attempts: 2, delay: 10s}, steps: [{ run: "true" }] }\n',
      ),
      request,
    );
    await settle();
    expect(offers).toBe(1);
    expect(events.find((e) => e.type === 'job.retrying')).toMatchObject({ attempt: 2, delayMs: 10_000 });
    await clock.advance(9_999);
    expect(offers).toBe(1);
    await clock.advance(1);
    expect(offers).toBe(2);
    expect(await handle.done).toBe('failed');
  });

  it('ends a run at once when it is cancelled while a job waits out its retry delay', async () => {
    const { plane: p, events } = plane();
    scriptedRunner(p, (m, send) => {
      if (m.type === 'offer') send({ type: 'accept', jobId: m.jobId });
      if (m.type === 'lease') {
        const outcome = { kind: 'failed', reason: 'exit 1', exitCode: 1 } as const;
        send({
          type: 'job.completed',
          jobId: m.jobId,
          fencingToken: m.fencingToken,
          outcome,
          outputs: {},
          at: 1,
        });
      }
    });
    // A one-hour delay: only the cancellation can end this run within the test's timeout.
    const handle = await p.startRun(
      workflow('jobs:\n  a: { runs-on: x, retry: {max-attempts: 2, delay: 1h}, steps: [{ run: "true" }] }\n'),
      request,
    );
    while (!events.some((e) => e.type === 'job.retrying')) await new Promise((r) => setTimeout(r, 5));
    handle.cancel(false);
    expect(await handle.done).toBe('cancelled');
    expect(events.filter((e) => e.type === 'job.completed')).toMatchObject([{ status: 'cancelled' }]);
  });
});
