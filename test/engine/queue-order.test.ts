import { describe, expect, it } from 'vitest';
import type { ControlPlane } from '../../src/engine/control-plane.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { FakeClock } from './fake-clock.js';

import { planesOnSqlite, runRequest as request, parsedWorkflow as workflow } from './plane-fixtures.js';

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** A runner with one slot that takes every offer and finishes the job at once; it records the order. */
function connectRunner(plane: ControlPlane): { offered: string[] } {
  const offered: string[] = [];
  const [control, runner] = inProcessPair<ControlMessage, RunnerMessage>();
  plane.connect(control);
  runner.onMessage((message) => {
    if (message.type === 'offer') {
      offered.push(message.name);
      runner.send({ type: 'accept', jobId: message.jobId });
    }
    if (message.type === 'lease') {
      runner.send({
        type: 'job.completed',
        jobId: message.jobId,
        fencingToken: message.fencingToken,
        outcome: { kind: 'succeeded' },
        outputs: {},
        at: 1,
      });
    }
  });
  runner.send({ type: 'register', version: 1, runner: { name: 'r', labels: ['x'], capacity: 1 } });
  return { offered };
}

describe('ControlPlane queue order', () => {
  const openPlane = planesOnSqlite('queue');
  const plane = (clock: FakeClock): ControlPlane => openPlane({ clock, agingIntervalMs: 60_000 }).plane;

  it('offers ready jobs by priority: the job key, then --priority, then the workflow default', async () => {
    const p = plane(new FakeClock());
    const runner = connectRunner(p);
    await settle();
    const handle = await p.startRun(
      workflow(`priority: background
jobs:
  plain:
    runs-on: x
    steps: [{ run: "true" }]
  urgent:
    runs-on: x
    priority: critical
    steps: [{ run: "true" }]
  later:
    runs-on: x
    priority: low
    steps: [{ run: "true" }]
  soon:
    runs-on: x
    priority: high
    steps: [{ run: "true" }]
`),
      { ...request, priority: 'normal' },
    );
    expect(await handle.done).toBe('succeeded');
    expect(runner.offered).toEqual(['urgent', 'soon', 'plain', 'later']);
  });

  it('holds a not-before job back until its time and wakes dispatch with one timer, no polling', async () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const p = plane(clock);
    const runner = connectRunner(p);
    await settle();
    const handle = await p.startRun(
      workflow(`jobs:
  late:
    runs-on: x
    priority: critical
    not-before: 30s
    steps: [{ run: "true" }]
  now:
    runs-on: x
    steps: [{ run: "true" }]
`),
      request,
    );
    await settle();
    expect(runner.offered).toEqual(['now']);
    // The one wake-up; any later timer is the lease of the job that runs meanwhile.
    expect(clock.pending().filter((at) => at <= t0 + 30_000)).toEqual([t0 + 30_000]);
    clock.advance(29_999);
    await settle();
    expect(runner.offered).toEqual(['now']);
    clock.advance(1);
    await settle();
    expect(runner.offered).toEqual(['now', 'late']);
    expect(await handle.done).toBe('succeeded');
    // No wake-up left behind (the lease sweeper's unref'd timer may still be armed for `now`'s lease).
    expect(clock.pending().filter((at) => at !== t0 + 60_000)).toEqual([]);
  });

  it('holds the whole run back with the run-level not-before', async () => {
    const clock = new FakeClock();
    const p = plane(clock);
    const runner = connectRunner(p);
    await settle();
    const handle = await p.startRun(workflow('jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n'), {
      ...request,
      notBefore: clock.now() + 5000,
    });
    await settle();
    expect(runner.offered).toEqual([]);
    clock.advance(5000);
    expect(await handle.done).toBe('succeeded');
    expect(runner.offered).toEqual(['a']);
  });
});
