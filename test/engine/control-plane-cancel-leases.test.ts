import { describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import type { RunHandle } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { oneJobWorkflow as oneJob, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { accepting, completing, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };
const leaseTtlMs = 15_000;

/** The run's final status, or `running` while `done` has not settled after the writes so far. */
async function statusNow(handle: RunHandle): Promise<string> {
  let status = 'running';
  void handle.done.then((done) => {
    status = done;
  });
  await settle();
  return status;
}

const starts = (events: readonly RunEvent[]) => events.filter((e) => e.type === 'job.started').length;

/**
 * Cancelling wins over a lost runner: a job that loses its lease while it is being cancelled ends
 * `cancelled` — never requeued, never failed as runner_lost — and one whose runner is away when it
 * is cancelled ends at once, its held lease dropped.
 */
describe('ControlPlane: cancelling a job whose runner is lost or away', () => {
  const openPlane = planesOnSqlite('cancel-leases');
  function plane() {
    const clock = new ManualClock();
    return { ...openPlane({ clock, leaseTtlMs }), clock };
  }

  it('ends the job of a runner that is away cancelled at once, and never offers it again', async () => {
    const { plane: p, clock, stores, events } = plane();
    const killed = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const lease = killed.lease();
    killed.end.close('connection reset');
    expect(p.leased(lease.jobId)).toBe(true);
    handle.cancel(false, 'the run was interrupted (SIGTERM)');
    // No time passes: the run ends now, not when the held lease's TTL runs out.
    expect(await statusNow(handle)).toBe('cancelled');
    expect(p.leased(lease.jobId)).toBe(false);
    expect(p.runnersWithDetachedLeases()).toEqual([]);
    const [job] = await stores.runs.listJobs(handle.id);
    // Why it was cancelled, and why it ended without its runner's word.
    expect(job).toMatchObject({
      status: 'cancelled',
      reason:
        'the run was interrupted (SIGTERM); ended while its runner was away: runner rnr_1 is disconnected',
    });
    // Its runner cannot write the job's line saying why: the control plane does.
    expect((await stores.logs.read(handle.id)).map(({ text }) => text)).toEqual([
      'running on runner r (rnr_1)',
      `runner r (rnr_1) disconnected; waiting up to ${leaseTtlMs / 1000}s for it to come back`,
      'cancelling the job: the run was interrupted (SIGTERM)',
    ]);
    const rescuer = new ScriptedRunner(p, completing, { name: 'rescuer' });
    await clock.advance(leaseTtlMs * 2);
    expect(rescuer.of('offer')).toEqual([]);
    expect(starts(events)).toBe(1);
    expect(events.filter((e) => e.type === 'job.queued')).toHaveLength(1);
    expect((await stores.runs.listJobs(handle.id))[0]?.status).toBe('cancelled');
  });

  it('refuses the resume of a runner that comes back to a job cancelled while it was away, so it stops the job', async () => {
    const { plane: p, stores } = plane();
    const first = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const { jobId, fencingToken } = first.lease();
    first.end.close('network dropped');
    handle.cancel(false);
    expect(await statusNow(handle)).toBe('cancelled');
    const back = new ScriptedRunner(p, accepting, { identity, resume: [{ jobId, fencingToken }] });
    await settle();
    const outcome = { kind: 'succeeded' } as const;
    back.send({ type: 'job.completed', jobId, fencingToken, outcome, outputs: {}, at: 1 });
    await settle();
    expect(back.of('cancel')).toEqual([]);
    expect(back.of('error').map((e) => [e.code, e.jobId, e.refused])).toEqual([
      ['VK_STALE_LEASE', jobId, 'register'],
      ['VK_STALE_LEASE', jobId, 'job.completed'],
    ]);
    // Its late writes are refused and kept under the job, which stays cancelled; its slot is free.
    const stale = await stores.staleWrites.list({ jobId: asJobId(jobId) });
    expect(stale.map((w) => [w.messageType, w.fencingToken, w.runnerId])).toEqual([
      ['register', fencingToken, 'rnr_1'],
      ['job.completed', fencingToken, 'rnr_1'],
    ]);
    expect((await stores.runs.listJobs(handle.id))[0]?.status).toBe('cancelled');
    expect(p.runners()).toMatchObject([{ id: 'rnr_1', connected: true, running: 0 }]);
  });

  it.each(['requeue', 'fail'])(
    'ends the job cancelled when its lease expires while it is being cancelled (on-runner-lost: %s)',
    async (policy) => {
      const { plane: p, clock, stores, events } = plane();
      const hung = new ScriptedRunner(p, accepting, { identity });
      const other = new ScriptedRunner(p, completing, { name: 'other' });
      const handle = await p.startRun(oneJob(`    on-runner-lost: ${policy}\n`), request);
      await settle();
      const lease = hung.lease();
      handle.cancel(false, 'cancelled by a newer run of concurrency group "deploy"');
      await settle();
      const reason = 'cancelled by a newer run of concurrency group "deploy"';
      expect(hung.of('cancel')).toEqual([{ type: 'cancel', jobId: lease.jobId, reason, immediate: false }]);
      // The connected runner is trusted to stop the job until its lease runs out.
      await clock.advance(leaseTtlMs - 1);
      expect(await statusNow(handle)).toBe('running');
      await clock.advance(1);
      expect(await statusNow(handle)).toBe('cancelled');
      const [job] = await stores.runs.listJobs(handle.id);
      expect(job).toMatchObject({
        status: 'cancelled',
        reason: `${reason}; ended while its runner was away: lease expired (not renewed within ${leaseTtlMs} ms)`,
      });
      expect(other.of('offer')).toEqual([]);
      expect(starts(events)).toBe(1);
      const completed = events.filter((e) => e.type === 'job.completed');
      expect(completed).toMatchObject([{ status: 'cancelled' }]);
      // The hung runner's late report changes nothing.
      hung.complete(lease, 'succeeded');
      await settle();
      expect(hung.of('error').map((e) => e.refused)).toEqual(['job.completed']);
      expect((await stores.runs.listJobs(handle.id))[0]?.status).toBe('cancelled');
    },
  );

  it('ends the job cancelled at once when its runner disconnects after being told to stop it', async () => {
    const { plane: p, stores, events } = plane();
    const runner = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const { jobId } = runner.lease();
    handle.cancel(false);
    await settle();
    expect(runner.of('cancel')).toHaveLength(1);
    expect(await statusNow(handle)).toBe('running');
    runner.end.close('connection reset');
    expect(await statusNow(handle)).toBe('cancelled');
    expect(p.leased(jobId)).toBe(false);
    const [job] = await stores.runs.listJobs(handle.id);
    expect(job).toMatchObject({
      status: 'cancelled',
      reason:
        'the run was cancelled; ended while its runner was away: runner rnr_1 disconnected while stopping it',
    });
    const rescuer = new ScriptedRunner(p, completing, { name: 'rescuer' });
    await settle();
    expect(rescuer.of('offer')).toEqual([]);
    expect(starts(events)).toBe(1);
  });

  it('ends the job cancelled, not requeued, when a runner without identity disconnects while stopping it', async () => {
    const { plane: p, stores, events } = plane();
    const local = new ScriptedRunner(p, accepting);
    const handle = await p.startRun(oneJob(), request);
    await settle();
    local.lease();
    handle.cancel(false);
    await settle();
    local.end.close('connection reset');
    const rescuer = new ScriptedRunner(p, completing, { name: 'rescuer' });
    expect(await statusNow(handle)).toBe('cancelled');
    expect(rescuer.of('offer')).toEqual([]);
    expect(starts(events)).toBe(1);
    const [job] = await stores.runs.listJobs(handle.id);
    expect(job).toMatchObject({ status: 'cancelled', reason: expect.stringMatching(/connection reset$/) });
  });

  it('ends a fail-fast sibling cancelled when its lease expires while it is being stopped', async () => {
    const { plane: p, clock, stores, events } = plane();
    const runner = new ScriptedRunner(p, accepting, { capacity: 2 });
    const matrix = '    strategy:\n      matrix:\n        n: [1, 2]\n';
    const handle = await p.startRun(oneJob(matrix), request);
    await settle();
    const [failing, sibling] = runner.of('lease');
    if (!failing || !sibling) throw new Error('two leases expected');
    runner.complete(failing, 'failed');
    await settle();
    expect(runner.of('cancel').map((c) => c.jobId)).toEqual([sibling.jobId]);
    const other = new ScriptedRunner(p, completing, { name: 'other' });
    await clock.advance(leaseTtlMs);
    expect(await statusNow(handle)).toBe('failed');
    expect(other.of('offer')).toEqual([]);
    expect(starts(events)).toBe(2);
    const job = (await stores.runs.listJobs(handle.id)).find((j) => j.id === sibling.jobId);
    expect(job).toMatchObject({ status: 'cancelled', reason: expect.stringMatching(/lease expired/) });
  });
});
