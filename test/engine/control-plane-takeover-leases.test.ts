import { describe, expect, it } from 'vitest';
import type { JobId, RunId } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { RunnerMessage } from '../../src/protocol/messages.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { orAfter } from '../core/race-timeout.js';
import { storeFactories } from '../store/factories.js';
import { useStores } from '../store/fixture.js';
import { eventually, oneJobWorkflow, runRequest } from './plane-fixtures.js';
import { accepting, completing, type Lease, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };
const leaseTtlMs = 10_000;

/** Waits (in real time: the writes are the store's) until `check` holds of the run's only job. */
async function jobStored(stores: Stores, runId: RunId, check: (job: object) => boolean): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    const [job] = await stores.runs.listJobs(runId);
    if (job !== undefined && check(job)) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the job was never stored so');
}

function logLine(lease: Lease, text: string): RunnerMessage {
  const { jobId, fencingToken } = lease;
  return { type: 'log', jobId, fencingToken, entries: [{ stepIndex: 0, stream: 'stdout', at: 1, text }] };
}

for (const [name, make, skip] of storeFactories) {
  describe.skipIf(skip !== undefined)(`${name}: a fleet job running when its control plane stopped`, () => {
    const stores = useStores(make);

    /**
     * A control plane grants runner rnr_1 the job of a one-job run, which starts its step and logs a
     * line; then that control plane is gone (no more of it runs) and the runner's connection with it.
     * A second control plane, on another handle of the store and 7 s later by its own clock, takes
     * the run over as RunTakeover does: holding its runners' leases when the first one's process has
     * certainly exited (`holdLeases`), not when only its heartbeat went stale.
     */
    async function takenOver(extra = '', holdLeases = true) {
      const workflow = oneJobWorkflow(extra);
      const before = new ControlPlane(stores(), { clock: new ManualClock(), leaseTtlMs });
      const first = new ScriptedRunner(before, accepting, { identity, name: 'east' });
      const { id: runId } = await before.startRun(workflow, runRequest);
      // A job with a concurrency group is admitted by a store write first (real time, on Postgres).
      for (let tries = 0; first.of('lease').length === 0 && tries < 300; tries++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      const lease = first.of('lease')[0];
      if (lease === undefined) throw new Error('no lease');
      const { jobId, fencingToken } = lease;
      first.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 'step', at: 1 });
      first.send(logLine(lease, 'before the takeover'));
      await jobStored(stores(), runId, (job) => 'fencingToken' in job);
      // Its step and line stored too: a write of the first control plane that lands after the second
      // took the run over is refused as a stale owner's, and the test would miss it (on Postgres).
      await eventually('the first control plane stored the step and its line', async () => {
        const [step] = await stores().runs.listSteps(jobId as JobId);
        const lines = await stores().logs.read(runId, { jobId: jobId as JobId });
        return step !== undefined && lines.some((line) => line.text === 'before the takeover');
      });
      first.end.close('the server died');
      const clock = new ManualClock(1_700_000_007_000);
      const another = await stores.another();
      const plane = new ControlPlane(another, { clock, leaseTtlMs });
      const record = await another.runs.getRun(runId);
      if (record === undefined) throw new Error('no run');
      const jobs = await another.runs.listJobs(runId);
      const handle = plane.continueRun('resume', workflow, runRequest, record, jobs, undefined, {
        holdLeases,
      });
      await settle();
      return { plane, clock, lease, handle, runId, jobId: lease.jobId as JobId, store: another };
    }

    it('stores the lease token with the running job, next to its runner', async () => {
      const { store, runId } = await takenOver();
      const jobs = await store.runs.listJobs(runId);
      expect(jobs[0]).toMatchObject({ status: 'running', runner: { id: 'rnr_1', name: 'east' } });
      expect(Number.isSafeInteger(jobs[0]?.fencingToken)).toBe(true);
    });

    it('holds the lease for its runner, which resumes it and completes the job in its first attempt', async () => {
      const { plane, clock, lease, handle, runId, jobId, store } = await takenOver();
      const { fencingToken } = lease;
      expect(plane.runners()).toEqual([]);
      // When the runner left the first control plane is not known here: no `since`.
      expect(plane.runnerAbsence(jobId)).toEqual({
        leaseExpiresAt: clock.now() + leaseTtlMs,
        atExpiry: 'requeue',
      });
      await clock.advance(leaseTtlMs - 1_000);
      const back = new ScriptedRunner(plane, accepting, {
        identity,
        name: 'east',
        resume: [{ jobId, fencingToken }],
      });
      await settle();
      expect(back.of('error')).toEqual([]);
      expect(plane.runnerAbsence(jobId)).toBeUndefined();
      // The resumed job takes the runner's one slot: nothing else is offered to it.
      expect(plane.runners()).toMatchObject([{ id: 'rnr_1', running: 1, capacity: 1 }]);
      // Taken back, the lease lives on by renewals, past the end of the TTL it was held for.
      await clock.advance(5_000);
      back.send({ type: 'renew', jobId, fencingToken });
      await clock.advance(5_000);
      back.send(logLine(lease, 'after the takeover'));
      back.send({
        type: 'step.completed',
        jobId,
        fencingToken,
        step: { index: 0, name: 'step', outcome: 'success', conclusion: 'success', finishedAt: 2 },
      });
      back.complete(lease);
      expect(await handle.done).toBe('succeeded');
      expect(back.of('error')).toEqual([]);
      expect(plane.runners()).toMatchObject([{ id: 'rnr_1', running: 0 }]);
      const [job] = await store.runs.listJobs(runId);
      expect(job).toMatchObject({ status: 'succeeded' });
      expect(job?.attempt ?? 1).toBe(1);
      expect(await store.runs.listJobAttempts(jobId)).toEqual([]);
      const lines = (await store.logs.read(runId, { jobId })).map((line) => line.text);
      expect(lines).toEqual(expect.arrayContaining(['before the takeover', 'after the takeover']));
      expect(lines.filter((text) => text.startsWith('runner_lost'))).toEqual([]);
      // The log said at the takeover that the job waits for its runner, and how long at most, then
      // that the runner came back (the first control plane's own lines left out: in this test it lives
      // on to see its runner's connection close, and says so in a line of its own).
      const told = (await store.logs.read(runId, { jobId }))
        .filter((line) => line.stream === 'system' && !line.text.includes('disconnected; waiting'))
        .map((line) => line.text);
      expect(told.slice(1)).toEqual([
        'the control plane that ran this job stopped; waiting up to 10s for runner east (rnr_1) to reconnect to this one',
        'runner east (rnr_1) reconnected and resumed the job',
      ]);
      const steps = await store.runs.listSteps(jobId);
      expect(steps).toMatchObject([{ index: 0, outcome: 'success' }]);
    });

    it('requeues the job when the TTL passes without its runner, under a larger token', async () => {
      const { plane, clock, lease, handle } = await takenOver();
      const other = new ScriptedRunner(plane, completing, { name: 'west' });
      await clock.advance(leaseTtlMs - 1);
      expect(other.of('offer')).toEqual([]);
      await clock.advance(1);
      expect(await handle.done).toBe('succeeded');
      expect(other.of('lease')[0]?.fencingToken).toBeGreaterThan(lease.fencingToken);
    });

    it('fails the job as runner_lost when the TTL passes without its runner and it says on-runner-lost: fail', async () => {
      const { clock, handle, runId, store } = await takenOver('    on-runner-lost: fail\n');
      await clock.advance(leaseTtlMs);
      expect(await handle.done).toBe('failed');
      const [job] = await store.runs.listJobs(runId);
      expect(job?.reason).toMatch(/^runner_lost: /);
    });

    it('holds nothing when the old owner may be alive: the job runs again, and the old lease is refused', async () => {
      // An owner judged gone by a stale heartbeat alone may still cancel its runner's job, whose
      // cancelled end the runner would send again under the old lease once it reaches this process.
      const { plane, handle, lease, runId, store } = await takenOver('', false);
      const back = new ScriptedRunner(plane, accepting, {
        identity,
        name: 'east',
        resume: [{ jobId: lease.jobId, fencingToken: lease.fencingToken }],
      });
      await settle();
      const { jobId, fencingToken } = lease;
      const outcome = { kind: 'cancelled', reason: 'cancelled' } as const;
      back.send({ type: 'job.completed', jobId, fencingToken, outcome, outputs: {}, at: 1 });
      // A refused completion is told once the store has said how the job ended (not as it reports).
      await eventually('the completion is refused', () => back.of('error').length === 2);
      expect(back.of('error').map((error) => [error.code, error.jobId, error.refused])).toEqual([
        ['VK_STALE_LEASE', jobId, 'register'],
        ['VK_STALE_LEASE', jobId, 'job.completed'],
      ]);
      const [again] = back.of('lease');
      expect(again?.fencingToken).toBeGreaterThan(lease.fencingToken);
      if (again === undefined) throw new Error('the job was not leased again');
      back.complete(again);
      expect(await handle.done).toBe('succeeded');
      const [job] = await store.runs.listJobs(runId);
      expect(job).toMatchObject({ status: 'succeeded', attempt: 2 });
    });

    it('holds nothing for a job with a concurrency group of its own, whose slot is adopted by a store write first', async () => {
      const { plane, handle, lease, runId, store } = await takenOver('    concurrency: solo\n');
      const back = new ScriptedRunner(plane, accepting, {
        identity,
        name: 'east',
        resume: [{ jobId: lease.jobId, fencingToken: lease.fencingToken }],
      });
      await settle();
      expect(back.of('error').map((error) => [error.code, error.refused])).toEqual([
        ['VK_STALE_LEASE', 'register'],
      ]);
      // The job adopts its place in `solo` (ControlPlane.continueRun): real time, on Postgres.
      for (let tries = 0; back.of('lease').length === 0 && tries < 300; tries++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      const [again] = back.of('lease');
      if (again === undefined) throw new Error('the job was not leased again');
      expect(again.fencingToken).toBeGreaterThan(lease.fencingToken);
      back.complete(again);
      expect(await handle.done).toBe('succeeded');
      expect((await store.runs.listJobs(runId))[0]).toMatchObject({ status: 'succeeded', attempt: 2 });
    });

    it('ends the job cancelled at once when the run is cancelled while its lease is held, and refuses its runner when it resumes', async () => {
      const { plane, clock, lease, handle, runId, store } = await takenOver();
      const { jobId, fencingToken } = lease;
      const other = new ScriptedRunner(plane, completing, { name: 'west' });
      handle.cancel(false);
      // Real time for the store's writes; the held lease's TTL is never reached on this clock.
      expect(await orAfter(handle.done, 5_000, 'still running after 5 s')).toBe('cancelled');
      expect(plane.leased(jobId)).toBe(false);
      const [job] = await store.runs.listJobs(runId);
      expect(job).toMatchObject({
        status: 'cancelled',
        reason: 'the run was cancelled; ended while its runner was away: runner rnr_1 is disconnected',
      });
      const back = new ScriptedRunner(plane, accepting, { identity, resume: [{ jobId, fencingToken }] });
      await clock.advance(leaseTtlMs * 2);
      expect(back.of('error').map((error) => [error.code, error.refused])).toEqual([
        ['VK_STALE_LEASE', 'register'],
      ]);
      expect([...other.of('offer'), ...back.of('offer')]).toEqual([]);
      expect((await store.runs.listJobs(runId))[0]?.status).toBe('cancelled');
    });

    it('loses the job at once when its runner comes back without it', async () => {
      const { plane, handle, lease } = await takenOver();
      const back = new ScriptedRunner(plane, completing, { identity, name: 'east' });
      await settle();
      expect(await handle.done).toBe('succeeded');
      expect(back.of('lease')[0]?.fencingToken).toBeGreaterThan(lease.fencingToken);
    });
  });
}
