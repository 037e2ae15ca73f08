import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { asJobId } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import {
  oneJobWorkflow as oneJob,
  planesOnSqlite,
  runRequest as request,
  jobsWorkflow as workflow,
} from './plane-fixtures.js';
import { accepting, completing, ScriptedRunner } from './scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };

describe('ControlPlane: runners with an identity across connections', () => {
  const openPlane = planesOnSqlite('resume');
  function plane(options: { leaseTtlMs?: number; offerTtlMs?: number } = {}) {
    const clock = new ManualClock();
    return { ...openPlane({ ...options, clock }), clock };
  }

  it('keeps the leases of a disconnected runner until their TTL, then requeues them elsewhere', async () => {
    const { plane: p, clock, events, stores } = plane({ leaseTtlMs: 10_000 });
    const first = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const lease = first.lease();
    first.end.close('network dropped');
    const other = new ScriptedRunner(p, completing);
    await clock.advance(9_999);
    expect(other.of('offer')).toEqual([]);
    expect(p.runners().find((r) => r.id === 'rnr_1')).toMatchObject({ connected: false, running: 1 });
    await clock.advance(1);
    expect(await handle.done).toBe('succeeded');
    expect(other.lease().fencingToken).toBeGreaterThan(lease.fencingToken);
    expect(events.filter((e) => e.type === 'job.started')).toHaveLength(2);
    // Its lease ended, and the job with it elsewhere: the runner, still away, runs nothing.
    expect(p.runners().find((r) => r.id === 'rnr_1')).toMatchObject({ connected: false, running: 0 });
    // The job's log said at once that it waits for the runner, and how long at most.
    const told = (await stores.logs.read(handle.id)).filter((line) => line.stream === 'system');
    expect(told.map((line) => [line.jobAttempt ?? 1, line.text])).toEqual([
      [1, 'running on runner r (rnr_1)'],
      [1, 'runner r (rnr_1) disconnected; waiting up to 10s for it to come back'],
      [
        1,
        'attempt 1 ended (runner_lost: lease expired (not renewed within 10000 ms)); requeued as attempt 2',
      ],
    ]);
    expect(told[1]?.at).toBe(told[0]?.at);
  });

  it('lists a disconnected runner as holding detached leases only while one is current', async () => {
    const { plane: p, clock } = plane({ leaseTtlMs: 10_000 });
    const first = new ScriptedRunner(p, accepting, { identity });
    await p.startRun(oneJob(), request);
    await settle();
    expect(p.runnersWithDetachedLeases()).toEqual([]);
    first.end.close('network dropped');
    expect(p.runnersWithDetachedLeases()).toEqual(['rnr_1']);
    await clock.advance(10_000);
    expect(p.runnersWithDetachedLeases()).toEqual([]);
  });

  it("releases a revoked runner's detached leases at once: its job goes elsewhere before the TTL", async () => {
    const { plane: p, events } = plane({ leaseTtlMs: 600_000 });
    const first = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const lease = first.lease();
    first.end.close('credential revoked');
    const other = new ScriptedRunner(p, completing);
    await settle();
    expect(other.of('offer')).toEqual([]);
    p.runnerRevoked('rnr_1', 'credential rnr_1 was revoked');
    expect(await handle.done).toBe('succeeded');
    expect(other.lease().fencingToken).toBeGreaterThan(lease.fencingToken);
    expect(p.runnersWithDetachedLeases()).toEqual([]);
    const logs = events.filter((e) => e.type === 'log').map((e) => (e.type === 'log' ? e.text : ''));
    expect(logs).toContain(
      'attempt 1 ended (runner_lost: credential rnr_1 was revoked); requeued as attempt 2',
    );
  });

  it('moves a resumed lease to the new connection: the job completes once, never offered elsewhere', async () => {
    const { plane: p, clock, events, stores } = plane({ leaseTtlMs: 10_000 });
    const first = new ScriptedRunner(p, accepting, { identity });
    const other = new ScriptedRunner(p, completing);
    const busy = await p.startRun(oneJob(), request);
    await settle();
    const lease = first.lease();
    first.end.close('network dropped');
    await clock.advance(9_000);
    const { jobId, fencingToken } = lease;
    const second = new ScriptedRunner(p, accepting, { identity, resume: [{ jobId, fencingToken }] });
    await settle();
    expect(second.of('registered')).toEqual([{ type: 'registered', runnerId: 'rnr_1', logStored: true }]);
    expect(second.of('error')).toEqual([]);
    // The resume renewed the lease: past the old expiry, nothing is lost.
    await clock.advance(5_000);
    second.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 's', at: 1 });
    second.complete(lease, 'succeeded', { from: 'second connection' });
    expect(await busy.done).toBe('succeeded');
    expect(other.of('offer')).toEqual([]);
    expect(events.filter((e) => e.type === 'job.started')).toHaveLength(1);
    const [job] = await stores.runs.listJobs(busy.id);
    expect(job).toMatchObject({ status: 'succeeded', outputs: { from: 'second connection' } });
    expect(await stores.runs.listSteps(asJobId(jobId))).toHaveLength(1);
    expect(await stores.staleWrites.list()).toEqual([]);
    expect(p.runners().find((r) => r.id === 'rnr_1')).toMatchObject({ connected: true, running: 0 });
    const told = (await stores.logs.read(busy.id)).filter((line) => line.stream === 'system');
    expect(told.map((line) => line.text)).toEqual([
      'running on runner r (rnr_1)',
      'runner r (rnr_1) disconnected; waiting up to 10s for it to come back',
      'runner r (rnr_1) reconnected and resumed the job',
    ]);
  });

  it('takes a step report sent again on the new connection once: live followers see each step once', async () => {
    const { plane: p, events, stores } = plane({ leaseTtlMs: 10_000 });
    const first = new ScriptedRunner(p, accepting, { identity });
    const busy = await p.startRun(oneJob(), request);
    await settle();
    const lease = first.lease();
    const { jobId, fencingToken } = lease;
    const started = { type: 'step.started', jobId, fencingToken, index: 0, name: 's', at: 1 } as const;
    const step = { index: 0, name: 's', outcome: 'success', conclusion: 'success', finishedAt: 2 } as const;
    const completed = { type: 'step.completed', jobId, fencingToken, step } as const;
    first.send(started);
    first.send(completed);
    await settle();
    first.end.close('network dropped');
    // No line of the job was acknowledged, so the runner sends its step reports again (report-journal.ts).
    const second = new ScriptedRunner(p, accepting, { identity, resume: [{ jobId, fencingToken }] });
    await settle();
    second.send(started);
    second.send(completed);
    second.send({ ...started, index: 1, name: 't', at: 3 });
    second.complete(lease, 'succeeded');
    expect(await busy.done).toBe('succeeded');
    const stepEvents = events.filter((e) => e.type === 'step.started' || e.type === 'step.completed');
    expect(stepEvents.map((e) => e.type)).toEqual(['step.started', 'step.completed', 'step.started']);
    expect(await stores.runs.listSteps(asJobId(jobId))).toHaveLength(2);
    expect(second.of('error')).toEqual([]);
  });

  it('refuses a resumed lease that expired and went elsewhere, so the runner cancels it', async () => {
    const { plane: p, clock, stores } = plane({ leaseTtlMs: 1_000 });
    const first = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const lease = first.lease();
    first.end.close('network dropped');
    await clock.advance(1_000);
    const other = new ScriptedRunner(p, accepting);
    await settle();
    const elsewhere = other.lease();
    const { jobId, fencingToken } = lease;
    const second = new ScriptedRunner(p, accepting, { identity, resume: [{ jobId, fencingToken }] });
    await settle();
    expect(second.of('error')).toEqual([
      expect.objectContaining({ code: 'VK_STALE_LEASE', jobId, fencingToken, refused: 'register' }),
    ]);
    other.complete(elsewhere);
    expect(await handle.done).toBe('succeeded');
    const stale = await stores.staleWrites.list();
    expect(stale.map((w) => [w.messageType, w.fencingToken, w.currentToken])).toEqual([
      ['register', fencingToken, elsewhere.fencingToken],
    ]);
  });

  it('requeues at once a job the runner held but did not resume (it restarted)', async () => {
    const { plane: p, events } = plane({ leaseTtlMs: 60_000 });
    const first = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    first.end.close('process killed');
    const restarted = new ScriptedRunner(p, completing, { identity, resume: [] });
    expect(await handle.done).toBe('succeeded');
    expect(restarted.of('lease')).toHaveLength(1);
    const requeue = events.find((e) => e.type === 'log' && e.text.includes('reconnected without the job'));
    expect(requeue).toBeDefined();
  });

  it('applies messages that arrive on the new connection before its register, once', async () => {
    const { plane: p, stores } = plane();
    const first = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    const lease = first.lease();
    first.end.close('network dropped');
    const { jobId, fencingToken } = lease;
    const completed = {
      type: 'job.completed',
      jobId,
      fencingToken,
      outcome: { kind: 'succeeded' },
      outputs: {},
      at: 1,
    } as const;
    const second = new ScriptedRunner(p, () => {}, {
      identity,
      resume: [{ jobId, fencingToken }],
      early: [{ type: 'renew', jobId, fencingToken }, completed],
    });
    expect(await handle.done).toBe('succeeded');
    // A completion sent again (it may have been lost with the old connection) is ignored quietly.
    second.send(completed);
    await settle();
    expect(second.of('error')).toEqual([]);
    expect(await stores.staleWrites.list()).toEqual([]);
  });

  it('supersedes a connection the server has not yet seen drop; its unanswered offers go to the queue', async () => {
    const { plane: p } = plane({ offerTtlMs: 60_000 });
    const silent = new ScriptedRunner(p, () => {}, { identity });
    const handle = await p.startRun(oneJob(), request);
    await settle();
    expect(silent.of('offer')).toHaveLength(1);
    const closed: string[] = [];
    silent.end.onClose((reason) => closed.push(reason));
    const second = new ScriptedRunner(p, completing, { identity, resume: [] });
    expect(await handle.done).toBe('succeeded');
    expect(closed).toEqual(['superseded by a new connection of the same runner']);
    expect(second.of('lease')).toHaveLength(1);
    expect(p.runners().filter((r) => r.id === 'rnr_1')).toHaveLength(1);
  });

  it('sends the stop of a run taken over elsewhere while its runner was away to the connection that resumes the lease', async () => {
    // A job cancelled while its runner is away ends at once instead (control-plane-cancel-leases.test.ts).
    const { plane: p } = plane();
    const first = new ScriptedRunner(p, accepting, { identity });
    const handle = await p.startRun(oneJob(), request);
    const outcome = handle.done.catch((error: unknown) => (error as { code?: string }).code);
    await settle();
    const { jobId, fencingToken } = first.lease();
    first.end.close('network dropped');
    expect(p.abandonRun(handle.id)).toBe(true);
    const second = new ScriptedRunner(p, () => {}, { identity, resume: [{ jobId, fencingToken }] });
    await settle();
    const reason = 'another process took the run over';
    expect(second.of('cancel')).toEqual([{ type: 'cancel', jobId, reason, immediate: true }]);
    expect(second.of('error')).toEqual([]);
    expect(await outcome).toBe('VK_RUN_TAKEN_OVER');
  });

  it('abandons a run taken over elsewhere: its runner is told to stop, and nothing more is written', async () => {
    const { plane: p, stores } = plane();
    const runner = new ScriptedRunner(p, accepting);
    const handle = await p.startRun(
      workflow(
        '  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n  b:\n    needs: a\n    runs-on: x\n    steps: [{ run: "true" }]\n',
      ),
      request,
    );
    const outcome = handle.done.then(
      () => 'resolved',
      (error: unknown) => (error as { code?: string }).code,
    );
    await settle();
    const lease = runner.lease();
    expect(p.abandonRun(handle.id)).toBe(true);
    expect(p.abandonRun(handle.id)).toBe(false);
    await settle();
    expect(runner.of('cancel')).toEqual([expect.objectContaining({ jobId: lease.jobId, immediate: true })]);
    expect(await outcome).toBe('VK_RUN_TAKEN_OVER');
    runner.complete(lease, 'succeeded', {});
    await settle();
    const jobs = await stores.runs.listJobs(handle.id);
    expect(jobs.map((job) => [job.key, job.status])).toEqual([['a', 'running']]);
    expect((await stores.runs.getRun(handle.id))?.status).toBe('running');
    // The slot the job held is free again for other runs' jobs.
    const next = await p.startRun(oneJob(), request);
    await settle();
    expect(runner.lease(1).jobId).toBe(`${next.id}.1`);
  });
});

describe('ControlPlane: runner modes', () => {
  const dirs: string[] = [];
  const open: Stores[] = [];
  afterEach(async () => {
    for (const stores of open.splice(0)) await stores.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function plane() {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-modes-'));
    dirs.push(dir);
    const stores = openSqliteStores(join(dir, 'state.db'));
    open.push(stores);
    return new ControlPlane(stores, { clock: new ManualClock() });
  }

  it('offers nothing to a runner in maintenance or draining, and resumes offers when it is online', async () => {
    const p = plane();
    const runner = new ScriptedRunner(p, completing, { identity, capacity: 2 });
    await settle();
    expect(p.runners()).toEqual([
      {
        id: 'rnr_1',
        name: 'r',
        labels: ['x'],
        capacity: 2,
        running: 0,
        mode: 'online',
        connected: true,
        transport: 'websocket',
      },
    ]);
    expect(p.setRunnerMode('rnr_1', 'maintenance')).toBe(true);
    expect(p.setRunnerMode('nobody', 'maintenance')).toBe(false);
    const handle = await p.startRun(oneJob(), request);
    await settle();
    expect(runner.of('offer')).toEqual([]);
    expect(p.runners()[0]?.mode).toBe('maintenance');
    p.setRunnerMode('rnr_1', 'draining');
    await settle();
    expect(runner.of('offer')).toEqual([]);
    p.setRunnerMode('rnr_1', 'online');
    expect(await handle.done).toBe('succeeded');
    expect(runner.of('offer')).toHaveLength(1);
  });

  it('stops offering to a runner that drains itself, and lists it as draining', async () => {
    const p = plane();
    const runner = new ScriptedRunner(p, completing);
    runner.send({ type: 'drain', reason: 'SIGTERM' });
    await settle();
    const handle = await p.startRun(oneJob(), request);
    await settle();
    expect(runner.of('offer')).toEqual([]);
    expect(p.runners()).toEqual([expect.objectContaining({ mode: 'draining', connected: true })]);
    const fresh = new ScriptedRunner(p, completing);
    expect(await handle.done).toBe('succeeded');
    expect(fresh.of('lease')).toHaveLength(1);
  });

  it('finds the one free runner with the labels among thousands of busy and unlabelled ones', async () => {
    const p = plane();
    const crowd: ScriptedRunner[] = [];
    for (let i = 0; i < 2_000; i++) crowd.push(new ScriptedRunner(p, () => {}, { labels: ['other'] }));
    const match = new ScriptedRunner(p, completing, { labels: ['x', 'gpu'] });
    await settle();
    const handle = await p.startRun(
      workflow('  a:\n    runs-on: [x, gpu]\n    steps: [{ run: "true" }]\n'),
      request,
    );
    expect(await handle.done).toBe('succeeded');
    expect(match.of('lease')).toHaveLength(1);
    expect(crowd.some((runner) => runner.of('offer').length > 0)).toBe(false);
    expect(p.runners()).toHaveLength(2_001);
  });
});
