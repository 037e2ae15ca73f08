import { describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { oneJobWorkflow as oneJob, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { accepting, completing, type Lease, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };

function leaseOf(runner: ScriptedRunner): Lease {
  const lease = runner.of('lease')[0];
  if (!lease) throw new Error('no lease');
  return lease;
}

/** The reports a runner sends again ahead of a completion in doubt (report-journal.ts), then that completion. */
function reportsThenEnd(runner: ScriptedRunner, { jobId, fencingToken }: Lease): void {
  const step = { index: 0, name: 's', outcome: 'success', conclusion: 'success', finishedAt: 2 } as const;
  runner.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 's', at: 1 });
  runner.send({
    type: 'log',
    jobId,
    fencingToken,
    first: 0,
    entries: [{ stepIndex: 0, stream: 'stdout', at: 1, text: 'hi' }],
  });
  runner.send({ type: 'step.completed', jobId, fencingToken, step });
  runner.send({
    type: 'job.completed',
    jobId,
    fencingToken,
    outcome: { kind: 'succeeded' },
    outputs: {},
    at: 3,
  });
}

describe('ControlPlane: reports a runner sends again ahead of a completion in doubt', () => {
  const openPlane = planesOnSqlite('resent-reports');
  function plane(leaseTtlMs: number) {
    const clock = new ManualClock();
    return { ...openPlane({ leaseTtlMs, clock }), clock };
  }

  it('takes them quietly with the completion when that was applied: nothing refused, nothing told twice', async () => {
    const { plane: p, events, stores } = plane(10_000);
    const first = new ScriptedRunner(p, accepting, { identity, completionsStored: true });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const lease = leaseOf(first);
    reportsThenEnd(first, lease);
    expect(await handle.done).toBe('succeeded');
    // The connection drops before the runner hears its completion was stored: a new session gets the
    // job's last reports and its completion again.
    first.end.close('network dropped');
    const { jobId, fencingToken } = lease;
    const second = new ScriptedRunner(p, accepting, {
      identity,
      resume: [{ jobId, fencingToken, completed: true }],
      completionsStored: true,
    });
    await settle();
    reportsThenEnd(second, lease);
    await settle();
    expect(second.of('error')).toEqual([]);
    expect(second.of('completions.stored')).toEqual([
      { type: 'completions.stored', jobs: [{ jobId, fencingToken }] },
    ]);
    expect(await stores.staleWrites.list()).toEqual([]);
    expect(await stores.runs.listSteps(asJobId(jobId))).toHaveLength(1);
    const told = events.filter(
      (e) => e.type === 'step.started' || e.type === 'step.completed' || e.type === 'log',
    );
    expect(told.filter((e) => e.type !== 'log' || e.stream === 'stdout').map((e) => e.type)).toEqual([
      'step.started',
      'log',
      'step.completed',
    ]);
  });

  it('refuses them before the completion, in order, when the lease was lost meanwhile', async () => {
    const { plane: p, clock, stores } = plane(1_000);
    const first = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const lease = leaseOf(first);
    first.end.close('network dropped');
    await clock.advance(1_000);
    new ScriptedRunner(p, completing);
    expect(await handle.done).toBe('succeeded');
    // The job ran to its end on the cut-off runner: it comes back with its reports and completion.
    const { jobId, fencingToken } = lease;
    const second = new ScriptedRunner(p, accepting, {
      identity,
      resume: [{ jobId, fencingToken, completed: true }],
    });
    await settle();
    reportsThenEnd(second, lease);
    await settle();
    const order = ['step.started', 'log', 'step.completed', 'job.completed'];
    expect(second.of('error').map((m) => [m.code, m.fencingToken, m.refused])).toEqual(
      order.map((type) => ['VK_STALE_LEASE', fencingToken, type]),
    );
    const stale = await stores.staleWrites.list();
    expect(stale.map((w) => [w.messageType, w.fencingToken])).toEqual(
      order.map((type) => [type, fencingToken]),
    );
  });

  it('refuses a report under a stale token at once when no completion is expected after it', async () => {
    const { plane: p, clock } = plane(1_000);
    const first = new ScriptedRunner(p, accepting, { identity });
    await p.startRun(oneJob(), request);
    await settle();
    const lease = leaseOf(first);
    first.end.close('network dropped');
    await clock.advance(1_000);
    const { jobId, fencingToken } = lease;
    const second = new ScriptedRunner(p, accepting, { identity, resume: [] });
    await settle();
    second.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 's', at: 1 });
    await settle();
    expect(second.of('error').map((m) => m.refused)).toEqual(['step.started']);
  });
});
