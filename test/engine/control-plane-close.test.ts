import { describe, expect, it } from 'vitest';
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

  it('leaves no timer armed and offers nothing once closed; the run stays unfinished in the store', async () => {
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
    scriptedRunner(plane, answering(true));
    await clock.advance(2 * 60 * 60 * 1000);
    expect(offered).toHaveLength(2);
    expect((await stores.runs.getRun(handle.id))?.status).toBe('running');
  });
});
