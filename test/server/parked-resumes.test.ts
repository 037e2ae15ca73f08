import { expect, it } from 'vitest';
import { asJobId, asRunId, type RunId } from '../../src/core/ids.js';
import type { RunOwner } from '../../src/store/recovery.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock } from '../core/manual-clock.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  logLine,
  oneJobWorkflow,
  startTestServer,
  type TestServer,
} from './helpers.js';
import { openSession, until } from './raw-runner-sessions.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

/** Of the server taking over; 20 s, so that a wait of one TTL is short to move through. */
const leaseTtlMs = 20_000;

/**
 * Server `first` drives a one-job run; a runner holds its job and logs a line; then `first` stops
 * (destroyed: its heartbeat stops) while this process — its owner, as the store says — lives on, so
 * no server can tell that it died but by its heartbeat going stale. Server `second`, on the same
 * store, runs on a clock the test moves, and sweeps for runs to take over only hourly: only a parked
 * resume can make it take the run over in time.
 */
async function firstServerStopped(openStores: OpenReplicaStores) {
  const first = await startTestServer({ stores: await openStores() });
  const store = await openStores();
  const created = await first.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
  const runId = asRunId((created.body as { run: { id: string } }).run.id);
  const own = await credential(first.request, first.token);
  const runner = await connectScriptedRunner(first.server.url, own, 1);
  const [lease] = await runner.leases(1);
  if (lease === undefined) throw new Error('no lease');
  runner.transport.send(logLine(lease, 'before'));
  await until(async () => (await lines(store, runId)).includes('before'), 'the first line is stored');
  await first.server.destroy();
  runner.transport.close('the server stopped');
  const clock = new ManualClock(Date.now());
  const second = await startTestServer({
    stores: await openStores(),
    clock,
    takeoverIntervalMs: 3_600_000,
    controlPlane: { leaseTtlMs },
  });
  const held = { jobId: lease.jobId, fencingToken: lease.fencingToken };
  return { first, second, store, runId, own, lease, held, clock };
}

async function lines(store: Stores, runId: RunId): Promise<string[]> {
  return (await store.logs.read(runId)).map((line) => line.text);
}

/** Moves `clock` on by `stepMs` at a time, letting the server work in real time between steps, until `done`. */
async function advanceUntil(clock: ManualClock, stepMs: number, maxMs: number, done: () => Promise<boolean>) {
  for (let moved = 0; moved <= maxMs; moved += stepMs) {
    if (await done()) return moved;
    await clock.advance(stepMs);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not done within ${maxMs} ms of the clock`);
}

async function runStatus(server: TestServer, runId: string): Promise<string> {
  return ((await server.request('GET', `/api/v1/runs/${runId}`)).body as { run: { status: string } }).run
    .status;
}

function parkedResumeScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a runner back before the takeover keeps its job, which succeeds in its first attempt with all its lines`, async () => {
    const { second, store, runId, own, lease, held, clock } = await firstServerStopped(openStores);
    try {
      const back = await openSession(second.server.url, own, [held]);
      for (const text of ['parked one', 'parked two']) back.transport.send(logLine(held, text));
      back.transport.send(jobCompleted(held));
      // Well before the first server's heartbeat is stale: nothing refused, the run not yet taken.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(back.refused).toEqual([]);
      expect((await store.runs.getRun(runId))?.status).toBe('running');
      const moved = await advanceUntil(clock, 500, leaseTtlMs - 1_000, async () => {
        return (await runStatus(second, runId)) === 'succeeded';
      });
      // Taken over as soon as the heartbeat was stale (6 s), not at a sweep.
      expect(moved).toBeLessThanOrEqual(7_500);
      expect(back.refused).toEqual([]);
      const [job] = await store.runs.listJobs(runId);
      expect(job).toMatchObject({ status: 'succeeded' });
      expect(job?.attempt ?? 1).toBe(1);
      expect(await store.runs.listJobAttempts(asJobId(lease.jobId))).toEqual([]);
      const written = (await lines(store, runId)).filter((text) => !text.startsWith('running on'));
      expect(written).toEqual(['before', 'parked one', 'parked two']);
      expect(await store.staleWrites.list({ jobId: asJobId(lease.jobId) })).toEqual([]);
      back.transport.close('done');
    } finally {
      await store.close();
    }
  }, 30_000);

  it(`${name}: a forged resume (another runner, or the wrong token) is refused at once; the runner's own is parked`, async () => {
    const { second, store, runId, own, held, clock } = await firstServerStopped(openStores);
    try {
      const stranger = await credential(second.request, second.token);
      const forger = await openSession(second.server.url, stranger, [held]);
      const wrong = await openSession(second.server.url, own, [
        { ...held, fencingToken: held.fencingToken + 1 },
      ]);
      await until(() => forger.refused.length === 1 && wrong.refused.length === 1, 'both were refused');
      expect([...forger.refused, ...wrong.refused]).toMatchObject([
        { code: 'VK_STALE_LEASE', refused: 'register', jobId: held.jobId },
        { code: 'VK_STALE_LEASE', refused: 'register', jobId: held.jobId },
      ]);
      forger.transport.send(logLine(held, 'forged'));
      const back = await openSession(second.server.url, own, [held]);
      back.transport.send(jobCompleted(held));
      await advanceUntil(clock, 500, leaseTtlMs - 1_000, async () => {
        return (await runStatus(second, runId)) === 'succeeded';
      });
      expect(back.refused).toEqual([]);
      expect((await store.runs.listJobs(runId))[0]?.attempt ?? 1).toBe(1);
      expect(await lines(store, runId)).not.toContain('forged');
      for (const session of [forger, wrong, back]) session.transport.close('done');
    } finally {
      await store.close();
    }
  }, 30_000);

  it(`${name}: a resume is refused after one lease TTL when the run's owner keeps heartbeating`, async () => {
    const { second, store, runId, own, held, clock } = await firstServerStopped(openStores);
    try {
      // Another replica, on another host, owns the run now and keeps its heartbeat fresh.
      const owner: RunOwner = { host: 'another-host', pid: 4242 };
      const judged = (await store.recovery.ownerships([runId])).get(runId);
      if (judged === undefined) throw new Error('the run has no owner');
      const claim = await store.recovery.claim(runId, judged, { owner, heartbeatAt: clock.now() });
      expect(claim).toEqual({ kind: 'claimed' });
      const back = await openSession(second.server.url, own, [held]);
      back.transport.send(logLine(held, 'parked'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const moved = await advanceUntil(clock, 1_000, leaseTtlMs + 5_000, async () => {
        await store.recovery.heartbeat(runId, owner, clock.now());
        return back.refused.length === 2;
      });
      expect(moved).toBeGreaterThanOrEqual(leaseTtlMs);
      expect(back.refused.map((error) => (error.type === 'error' ? error.refused : ''))).toEqual([
        'register',
        'log',
      ]);
      expect((await store.runs.listJobs(runId))[0]).toMatchObject({ status: 'running' });
      expect(await lines(store, runId)).not.toContain('parked');
      back.transport.close('done');
    } finally {
      await store.close();
    }
  }, 30_000);
}

onBothStores('a runner resuming a job before the server taking its run over has it', parkedResumeScenario);
