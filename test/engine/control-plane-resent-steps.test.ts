import { describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import type { ControlPlane } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
import type { RunnerMessage } from '../../src/protocol/messages.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { oneJobWorkflow as oneJob, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };

/** What a runner's journal holds of its job's first step (report-journal.ts): its start and a line. */
function journalOf({ jobId, fencingToken }: Lease, text: string): RunnerMessage[] {
  return [
    { type: 'step.started', jobId, fencingToken, index: 0, name: 's', at: 1 },
    {
      type: 'log',
      jobId,
      fencingToken,
      first: 0,
      entries: [{ stepIndex: 0, stream: 'stdout', at: 1, text }],
    },
  ];
}

/** Each of `late`'s journal, then the same of `fresh`'s, in turn: the late one just ahead. */
function inTurn(late: [ScriptedRunner, Lease, string], fresh: [ScriptedRunner, Lease, string]): void {
  const [lateReports, freshReports] = [journalOf(late[1], late[2]), journalOf(fresh[1], fresh[2])];
  lateReports.forEach((report, i) => {
    late[0].send(report);
    const next = freshReports[i];
    if (next !== undefined) fresh[0].send(next);
  });
}

/** The step starts told to live followers (`logs --follow` heads a step at each): `jobAttempt index`. */
function headings(events: readonly RunEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'step.started' ? [`${e.jobAttempt ?? 1} ${e.index}`] : []));
}

/**
 * `logs --follow` heads a step at each step.started the control plane takes, and `logs` each stored
 * step: sessions sending the same reports again at once must make neither twice, nor put one
 * runner's step in another's attempt. What keeps them once, in order: a superseded session is closed
 * (Dispatcher.register), and what it had on its way is refused, as is any report but under the job's
 * current token from the session that holds that lease (LeaseTable.check, for LeaseGuard.admit);
 * then LeaseReports takes each step report once per lease (StepReportsTaken), and RunnerLines each line.
 */
describe('ControlPlane: step reports two sessions send again at once', () => {
  const openPlane = planesOnSqlite('resent-steps');
  function plane(leaseTtlMs: number) {
    const clock = new ManualClock();
    return { ...openPlane({ leaseTtlMs, clock }), clock };
  }

  /** Runner rnr_1 starts the job's first step and prints `text`; then its connection drops. */
  async function cutOffAfterStart(p: ControlPlane, text: string) {
    const first = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const lease = first.lease();
    for (const report of journalOf(lease, text)) first.send(report);
    await settle();
    first.end.close('network dropped');
    return { handle, lease };
  }

  it('heads a step once when two new sessions of its runner both send it again', async () => {
    const { plane: p, events, stores } = plane(10_000);
    const { handle, lease } = await cutOffAfterStart(p, 'hi');
    // Two reconnects race (a WebSocket and its long-poll fallback): both resume the lease and send the
    // journal again. The later one supersedes the earlier, whose reports were on their way: they come
    // after the later one's register and its journal.
    const { jobId, fencingToken } = lease;
    const resume = [{ jobId, fencingToken }];
    const second = new ScriptedRunner(p, accepting, { identity, resume });
    await settle();
    const third = new ScriptedRunner(p, accepting, { identity, resume });
    for (const report of journalOf(lease, 'hi')) third.send(report);
    for (const report of journalOf(lease, 'hi')) second.send(report);
    await settle();
    third.complete(lease);
    expect(await handle.done).toBe('succeeded');
    expect(headings(events)).toEqual(['1 0']);
    expect(await stores.runs.listSteps(asJobId(jobId))).toHaveLength(1);
    const lines = await stores.logs.read(handle.id);
    expect(lines.filter((l) => l.stream === 'stdout').map((l) => l.text)).toEqual(['hi']);
    // The superseded session's are refused, stored as late writes of the runner; the later one's are not.
    const stale = await stores.staleWrites.list();
    expect(stale.map((w) => [w.messageType, w.fencingToken])).toEqual([
      ['step.started', fencingToken],
      ['log', fencingToken],
    ]);
    expect(third.of('error')).toEqual([]);
  });

  it("heads a step once per attempt when the old runner's reports come after the job went to another", async () => {
    const { plane: p, clock, events, stores } = plane(1_000);
    const { handle, lease: old } = await cutOffAfterStart(p, 'from the first runner');
    await clock.advance(1_000);
    const other = new ScriptedRunner(p, accepting, {
      identity: { runnerId: 'rnr_2', transport: 'websocket' },
    });
    await settle();
    const current = other.lease();
    // The first runner comes back while the second runs the job's next attempt: both send the step,
    // the first just ahead.
    const back = new ScriptedRunner(p, accepting, {
      identity,
      resume: [{ jobId: old.jobId, fencingToken: old.fencingToken }],
    });
    await settle();
    inTurn([back, old, 'from the first runner'], [other, current, 'from the second runner']);
    other.complete(current);
    expect(await handle.done).toBe('succeeded');
    expect(headings(events)).toEqual(['1 0', '2 0']);
    const steps = await stores.runs.listSteps(asJobId(old.jobId));
    expect(steps.map((s) => [s.jobAttempt ?? 1, s.index])).toEqual([
      [1, 0],
      [2, 0],
    ]);
    const lines = (await stores.logs.read(handle.id)).filter((l) => l.stream === 'stdout');
    expect(lines.map((l) => [l.jobAttempt ?? 1, l.text])).toEqual([
      [1, 'from the first runner'],
      [2, 'from the second runner'],
    ]);
    expect(back.of('error').map((m) => m.refused)).toEqual(['register', 'step.started', 'log']);
  });

  it('heads a step in its own attempt only when a runner given the job again still sends under its lost lease', async () => {
    const { plane: p, clock, events, stores } = plane(1_000);
    const runner = new ScriptedRunner(p, accepting, { identity, capacity: 2 });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const old = runner.lease();
    // Stalled without its connection closing, the runner does not renew: its lease expires. Once it
    // reports the end of that attempt (refused), the job's next one is offered to it again, on the
    // same session, under a new token; reports under the old one still come on the session after it.
    await clock.advance(1_000);
    runner.send({
      type: 'job.completed',
      ...{ jobId: old.jobId, fencingToken: old.fencingToken },
      outcome: { kind: 'cancelled', reason: 'lease expired' },
      outputs: {},
      at: 2,
    });
    await settle();
    const current = runner.lease(1);
    inTurn([runner, old, 'from the lost lease'], [runner, current, 'from the new lease']);
    runner.complete(current);
    expect(await handle.done).toBe('succeeded');
    expect(headings(events)).toEqual(['2 0']);
    const lines = (await stores.logs.read(handle.id)).filter((l) => l.stream === 'stdout');
    expect(lines.map((l) => [l.jobAttempt ?? 1, l.text])).toEqual([[2, 'from the new lease']]);
    expect(runner.of('error').map((m) => m.refused)).toEqual(['job.completed', 'step.started', 'log']);
  });
});
