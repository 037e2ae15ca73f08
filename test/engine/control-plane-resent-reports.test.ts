import { describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { oneJobWorkflow as oneJob, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { accepting, completing, type Lease, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };

/**
 * The reports a runner sends again ahead of a completion in doubt (report-journal.ts), then that
 * completion: `steps` steps, each with `lines` numbered lines (a `log` a line) between its reports.
 */
function stepsThenEnd(
  runner: ScriptedRunner,
  { jobId, fencingToken }: Lease,
  steps = 1,
  lines: readonly string[] = ['hi'],
): void {
  let first = 0;
  for (let index = 0; index < steps; index++) {
    const name = index === 0 ? 's' : `s${index}`;
    runner.send({ type: 'step.started', jobId, fencingToken, index, name, at: 1 });
    for (const text of lines) {
      const entries = [{ stepIndex: index, stream: 'stdout', at: 1, text }] as const;
      runner.send({ type: 'log', jobId, fencingToken, first: first++, entries: [...entries] });
    }
    const step = { index, name, outcome: 'success', conclusion: 'success', finishedAt: 2 } as const;
    runner.send({ type: 'step.completed', jobId, fencingToken, step });
  }
  runner.send({
    type: 'job.completed',
    jobId,
    fencingToken,
    outcome: { kind: 'succeeded' },
    outputs: {},
    at: 3,
  });
}

/** A job's whole journal as a runner sends it again after the server went away while the job printed. */
const manyStepsThenEnd = (runner: ScriptedRunner, lease: Lease) =>
  stepsThenEnd(runner, lease, stepsPastTheCap, ['a', 'b']);

/**
 * Steps of manyStepsThenEnd: 1,600 reports in 1,200 rows of one type (a step's start, its lines, its end): past the 1,024 rows a
 * completion holds in order (reports-ahead-of-end.ts) by 176 reports, from the lines of step 341.
 */
const stepsPastTheCap = 400;

/** What is refused of `manyStepsThenEnd`: 1,024 rows in order, then the rest by type. */
function refusedPastTheCap(): string[] {
  const step = ['step.started', 'log', 'log', 'step.completed'];
  const inRows = [...Array.from({ length: 341 }, () => step).flat(), 'step.started'];
  const rest = (type: string, count: number) => Array.from({ length: count }, () => type);
  return [...inRows, ...rest('log', 59 * 2), ...rest('step.completed', 59), ...rest('step.started', 58)];
}

describe('ControlPlane: reports a runner sends again ahead of a completion in doubt', () => {
  const openPlane = planesOnSqlite('resent-reports');
  function plane(leaseTtlMs: number) {
    const clock = new ManualClock();
    return { ...openPlane({ leaseTtlMs, clock }), clock };
  }

  type SendAgain = (runner: ScriptedRunner, lease: Lease) => void;

  /**
   * The job's runner sends `reports` and its completion, which is applied; the connection drops before
   * it hears so, and a new session sends them again (`sendAgain`) with the completion in doubt.
   */
  async function appliedThenSentAgain(reports: SendAgain, sendAgain: SendAgain) {
    const { plane: p, events, stores } = plane(10_000);
    const first = new ScriptedRunner(p, accepting, { identity, completionsStored: true });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const lease = first.lease();
    reports(first, lease);
    expect(await handle.done).toBe('succeeded');
    first.end.close('network dropped');
    const { jobId, fencingToken } = lease;
    const second = new ScriptedRunner(p, accepting, {
      identity,
      resume: [{ jobId, fencingToken, completed: true }],
      completionsStored: true,
    });
    await settle();
    const toldBefore = events.length;
    sendAgain(second, lease);
    await settle(20);
    return { events, stores, second, lease, toldAgain: events.slice(toldBefore) };
  }

  /**
   * The job's runner is cut off until its lease expires and another runner completes the job; it
   * comes back with the job's reports and completion (`sendAgain`), which the control plane refuses.
   */
  async function lostThenSentAgain(sendAgain: SendAgain) {
    const { plane: p, clock, stores } = plane(1_000);
    const first = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const lease = first.lease();
    first.end.close('network dropped');
    await clock.advance(1_000);
    new ScriptedRunner(p, completing);
    expect(await handle.done).toBe('succeeded');
    const { jobId, fencingToken } = lease;
    const second = new ScriptedRunner(p, accepting, {
      identity,
      resume: [{ jobId, fencingToken, completed: true }],
    });
    await settle();
    sendAgain(second, lease);
    await settle(20);
    return { stores, second, lease };
  }

  it('takes them quietly with the completion when that was applied: nothing refused, nothing told twice', async () => {
    const { events, stores, second, lease } = await appliedThenSentAgain(stepsThenEnd, stepsThenEnd);
    const { jobId, fencingToken } = lease;
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
    const { stores, second, lease } = await lostThenSentAgain(stepsThenEnd);
    const { fencingToken } = lease;
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
    const lease = first.lease();
    first.end.close('network dropped');
    await clock.advance(1_000);
    const { jobId, fencingToken } = lease;
    const second = new ScriptedRunner(p, accepting, { identity, resume: [] });
    await settle();
    second.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 's', at: 1 });
    await settle();
    expect(second.of('error').map((m) => m.refused)).toEqual(['step.started']);
  });

  it('takes however many quietly with the completion when that was applied', async () => {
    const { stores, second, lease, toldAgain } = await appliedThenSentAgain(
      manyStepsThenEnd,
      manyStepsThenEnd,
    );
    const { jobId, fencingToken } = lease;
    expect(second.of('error')).toEqual([]);
    expect(second.of('completions.stored')).toEqual([
      { type: 'completions.stored', jobs: [{ jobId, fencingToken }] },
    ]);
    expect(await stores.staleWrites.list()).toEqual([]);
    expect(toldAgain).toEqual([]);
  });

  it('refuses however many before the completion when it is refused: in order, those past 1,024 rows by type', async () => {
    const { stores, second } = await lostThenSentAgain(manyStepsThenEnd);
    const order = [...refusedPastTheCap(), 'job.completed'];
    expect(order).toHaveLength(stepsPastTheCap * 4 + 1);
    expect(second.of('error').map((m) => m.refused)).toEqual(order);
    const stale = await stores.staleWrites.list();
    expect(stale.map((w) => w.messageType)).toEqual(order);
  });
});
