import { describe, expect, it } from 'vitest';
import { resolveWorkflowGroup } from '../../src/engine/workflow-group.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { planesOnSqlite, runRequest, scriptedRunner, parsedWorkflow as workflow } from './plane-fixtures.js';

const failed = { kind: 'failed', reason: 'exit 1', exitCode: 1 } as const;

describe('ControlPlane timers and close()', () => {
  const openPlane = planesOnSqlite('plane-close');

  it('disarms a delayed retry’s wake-up, which keeps the process alive, when the run is cancelled or given up', async () => {
    const clock = new ManualClock();
    const { plane } = openPlane({ clock });
    scriptedRunner(plane, (m, send) => {
      if (m.type === 'offer') send({ type: 'accept', jobId: m.jobId });
      if (m.type === 'lease')
        send({
          type: 'job.completed',
          jobId: m.jobId,
          fencingToken: m.fencingToken,
          outcome: failed,
          outputs: {},
          at: 1,
        });
    });
    const retried = workflow(
      'jobs:\n  a: { runs-on: x, retry: {max-attempts: 2, delay: 1h}, steps: [{ run: "true" }] }\n',
    );
    const cancelled = await plane.startRun(retried, runRequest);
    await settle();
    expect(clock.keptAlive).toBe(1);
    cancelled.cancel(false);
    expect(await cancelled.done).toBe('cancelled');
    expect(clock.keptAlive).toBe(0);

    // Another process took the run over: nothing of it runs here any more, its wake-up included.
    const takenOver = await plane.startRun(retried, runRequest);
    await settle();
    expect(clock.keptAlive).toBe(1);
    expect(plane.abandonRun(takenOver.id)).toBe(true);
    expect(clock.keptAlive).toBe(0);
  });

  it('leaves no timer armed, offers nothing and turns runners away once closed; the run stays unfinished in the store', async () => {
    const clock = new ManualClock();
    const { plane, stores } = openPlane({ clock });
    const offered: string[] = [];
    const answering = (accept: boolean) => (m: ControlMessage, send: (reply: RunnerMessage) => void) => {
      if (m.type !== 'offer') return;
      offered.push(m.jobId);
      if (accept) send({ type: 'accept', jobId: m.jobId });
    };
    // One runner takes job a and runs it (its lease is due to expire), the other leaves b's offer open.
    scriptedRunner(plane, answering(true));
    scriptedRunner(plane, answering(false));
    const handle = await plane.startRun(
      workflow(`jobs:
  a: { runs-on: x, steps: [{ run: "true" }] }
  b: { runs-on: x, steps: [{ run: "true" }] }
`),
      runRequest,
    );
    await settle();
    expect(offered).toHaveLength(2);
    expect(clock.pending).toBeGreaterThan(0);

    await plane.close();
    expect(clock.pending).toBe(0);
    // A runner that connects now is turned away, rather than kept waiting for offers that never come.
    const [control, late] = inProcessPair<ControlMessage, RunnerMessage>();
    const closedWith: string[] = [];
    late.onClose((reason) => closedWith.push(reason));
    plane.connect(control);
    expect(closedWith).toEqual(['VK_SHUTTING_DOWN: the control plane is closed']);
    await clock.advance(2 * 60 * 60 * 1000);
    expect(offered).toHaveLength(2);
    expect((await stores.runs.getRun(handle.id))?.status).toBe('running');
    // Nor does it start another: refused before anything is stored.
    await expect(
      plane.startRun(workflow('jobs:\n  d: { runs-on: x, steps: [{ run: "true" }] }\n'), runRequest),
    ).rejects.toMatchObject({
      code: 'VK_SHUTTING_DOWN',
    });
    expect(await stores.runs.listRuns({})).toHaveLength(1);
  });

  it('stops the places of its runs and jobs in concurrency groups, held or waiting, and leaves them in the store', async () => {
    const clock = new ManualClock();
    const { plane, stores } = openPlane({ clock });
    // Two runs of one workflow-level group (one holds it, one waits), and a run whose two jobs share a
    // job-level group (one holds it, one waits); no runner, so every job stays queued.
    const deploy = workflow('concurrency: deploy\njobs:\n  a: { runs-on: x, steps: [{ run: "true" }] }\n');
    const group = resolveWorkflowGroup(deploy, runRequest);
    for (let i = 0; i < 2; i++) await plane.submitRun(deploy, runRequest, { group });
    const job = '{ runs-on: x, concurrency: { group: migrate }, steps: [{ run: "true" }] }';
    await plane.startRun(workflow(`jobs:\n  a: ${job}\n  b: ${job}\n`), runRequest);
    await clock.advance(1_000);
    const states = async (name: string) => (await stores.concurrency.list(name)).map((m) => m.phase);
    expect(await states('deploy')).toEqual(['running', 'pending']);
    expect(await states('migrate')).toEqual(['running', 'pending']);

    await plane.close();
    expect(clock.pending).toBe(0);
    expect(await states('deploy')).toEqual(['running', 'pending']);
    expect(await states('migrate')).toEqual(['running', 'pending']);
  });

  it('stops beating a job’s place still waiting for its group once the run is given up, and leaves it in the store', async () => {
    const clock = new ManualClock();
    const { plane, stores } = openPlane({ clock });
    const job = '{ runs-on: x, concurrency: { group: migrate }, steps: [{ run: "true" }] }';
    const run = await plane.startRun(workflow(`jobs:\n  a: ${job}\n  b: ${job}\n`), runRequest);
    await clock.advance(1_000);
    const members = async () =>
      (await stores.concurrency.list('migrate')).map((m) => [m.phase, m.heartbeatAt]);
    expect((await members()).map(([phase]) => phase)).toEqual(['running', 'pending']);

    expect(plane.abandonRun(run.id)).toBe(true);
    await run.done.catch(() => undefined);
    await settle();
    const left = await members();
    // Past the 10 s after which a place without beats lapses: neither place was beaten here meanwhile.
    for (let passed = 0; passed < 12_000; passed += 500) {
      await clock.advance(500);
      await settle();
    }
    expect(await members()).toEqual(left);
    expect(left.map(([phase]) => phase)).toEqual(['running', 'pending']);
  });
});
