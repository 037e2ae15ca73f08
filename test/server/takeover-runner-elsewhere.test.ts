import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { expect, it } from 'vitest';
import { asRunId } from '../../src/core/ids.js';
import type { Stores } from '../../src/store/store.js';
import { connectScriptedRunner, credential, jobOf, oneJobWorkflow, startTestServer } from './helpers.js';
import { openSession, runnerIdOf, until } from './raw-runner-sessions.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

/** A pid of this host whose process has exited (and been reaped). */
function deadPid(): number {
  const pid = spawnSync('true').pid;
  if (pid === undefined) throw new Error('no pid');
  return pid;
}

/** Makes the run's owner a process of this host that no longer exists, as when a replica is killed. */
async function ownedByTheDead(stores: Stores, runId: string): Promise<void> {
  const id = asRunId(runId);
  const judged = (await stores.recovery.ownerships([id])).get(id);
  if (judged === undefined) throw new Error(`run ${runId} has no owner`);
  const dead = { owner: { host: hostname(), pid: deadPid() }, heartbeatAt: judged.heartbeatAt };
  expect((await stores.recovery.claim(id, judged, dead)).kind).not.toBe('lost');
}

/**
 * Makes the run's owner a replica of another host that beats (every 500 ms here, as a live replica
 * does every 2 s) until the returned function is called: alive, as far as any other host can tell.
 */
async function ownedByABeatingReplicaElsewhere(stores: Stores, runId: string): Promise<() => Promise<void>> {
  const id = asRunId(runId);
  const owner = { host: `${hostname()}-elsewhere`, pid: 4242 };
  const beat = async () => {
    const judged = (await stores.recovery.ownerships([id])).get(id);
    await stores.recovery.claim(id, judged, { owner, heartbeatAt: Date.now() });
  };
  await beat();
  let beating = Promise.resolve();
  const beats = setInterval(() => {
    beating = beating.then(beat).catch(() => undefined);
  }, 500).unref();
  return async () => {
    clearInterval(beats);
    await beating;
  };
}

/**
 * A replica dies while a runner runs a job of a run it drives; the runner reconnects at once — behind
 * a load balancer, to another replica, which neither drives the run nor takes it over first (here the
 * run's owner is a replica of another host whose heartbeat is fresh: it may be alive, cut off from
 * its runners), and refuses its resume; the runner stops the job — and a third replica takes the run over
 * once its owner is known dead. It must not hold the job's lease for that runner for a lease TTL
 * (docs/replicas.md): the runner cannot resume it there, and the run would wait a minute for nothing
 * before the job runs again.
 */
function scenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a takeover holds no lease for a runner connected to another replica; the job is requeued at once`, async () => {
    const stores = await openStores();
    try {
      const dying = await startTestServer({ stores: await openStores() });
      const created = await dying.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
      const runId = (created.body as { run: { id: string } }).run.id;
      const own = await credential(dying.request, dying.token);
      const runner = await connectScriptedRunner(dying.server.url, own, 1);
      const [lease] = await runner.leases(1);
      if (lease === undefined) throw new Error('no lease');
      await until(
        async () => (await stores.runs.listJobs(asRunId(runId)))[0]?.runner?.id === runnerIdOf(own),
        'the job is stored running on the runner',
      );
      // Sweeps only at its start, when the run is still driven: it never takes it over.
      const elsewhere = await startTestServer({
        stores: await openStores(),
        takeoverIntervalMs: 3_600_000,
        runnerSyncIntervalMs: 50,
      });
      await dying.server.destroy();
      // A destroyed replica released its run (RunRecoveryStore.release): this one did not.
      const stopBeating = await ownedByABeatingReplicaElsewhere(stores, runId);

      // The run's owner is alive, as far as can be told: the replica does not take the run over.
      const returning = await openSession(elsewhere.server.url, own, [
        { jobId: lease.jobId, fencingToken: lease.fencingToken },
      ]);
      try {
        await until(
          () =>
            returning.refused.some((message) => message.type === 'error' && message.refused === 'register'),
          'the replica that does not drive the run refuses the resume',
        );
        await until(
          async () =>
            (await stores.runners.list()).some((row) => row.id === runnerIdOf(own) && row.connected),
          'the store lists the runner connected to that replica',
        );
        await stopBeating();
        await ownedByTheDead(stores, runId);

        const taker = await startTestServer({ stores: await openStores() });
        await until(
          async () => (await jobOf(taker, runId)).attempt === 2,
          'the job is requeued as attempt 2',
        );
        const { run } = (await taker.request('GET', `/api/v1/runs/${runId}`)).body as {
          run: { jobs: { status: string }[] };
        };
        expect(run.jobs[0]?.status).toBe('queued');
      } finally {
        returning.transport.close();
      }
    } finally {
      await stores.close();
    }
  }, 30_000);
}

/**
 * As above, but the runner comes back only after the takeover, which held its job's lease for it: to
 * another replica, which refuses its resume. The replica that holds the lease lets it go as soon as
 * the runner list shows the runner there (within a sync or two), not a lease TTL later.
 */
function laterScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a held lease is let go once its runner is listed connected to another replica`, async () => {
    const stores = await openStores();
    try {
      const dying = await startTestServer({ stores: await openStores() });
      const created = await dying.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
      const runId = (created.body as { run: { id: string } }).run.id;
      const own = await credential(dying.request, dying.token);
      const runner = await connectScriptedRunner(dying.server.url, own, 1);
      const [lease] = await runner.leases(1);
      if (lease === undefined) throw new Error('no lease');
      await until(
        async () => (await stores.runs.listJobs(asRunId(runId)))[0]?.runner?.id === runnerIdOf(own),
        'the job is stored running on the runner',
      );
      const elsewhere = await startTestServer({
        stores: await openStores(),
        takeoverIntervalMs: 3_600_000,
        runnerSyncIntervalMs: 50,
      });
      await dying.server.destroy();
      await ownedByTheDead(stores, runId);

      const taker = await startTestServer({ stores: await openStores(), runnerSyncIntervalMs: 50 });
      await until(async () => {
        const { run } = (await taker.request('GET', `/api/v1/runs/${runId}`)).body as {
          run: { jobs: { runnerDisconnected?: object }[] };
        };
        return run.jobs[0]?.runnerDisconnected !== undefined;
      }, 'the taker holds the job for its runner');

      const returning = await openSession(elsewhere.server.url, own, [
        { jobId: lease.jobId, fencingToken: lease.fencingToken },
      ]);
      try {
        await until(
          () =>
            returning.refused.some((message) => message.type === 'error' && message.refused === 'register'),
          'the replica that does not drive the run refuses the resume',
        );
        await until(
          async () => (await jobOf(taker, runId)).attempt === 2,
          'the job is requeued as attempt 2',
        );
      } finally {
        returning.transport.close();
      }
    } finally {
      await stores.close();
    }
  }, 30_000);
}

onBothStores('a takeover of a run whose runner reconnected to another replica', (name, openStores) => {
  scenario(name, openStores);
  laterScenario(name, openStores);
});
