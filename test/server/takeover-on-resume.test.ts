import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { expect, it } from 'vitest';
import { asRunId } from '../../src/core/ids.js';
import type { Stores } from '../../src/store/store.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  jobOf,
  oneJobWorkflow,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';
import { openSession, runnerIdOf, until } from './raw-runner-sessions.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

/** Makes process `pid` of this host the run's owner, its heartbeat left as it was, or moved to `heartbeatAt`. */
async function ownedBy(stores: Stores, runId: string, pid: number, heartbeatAt?: number): Promise<void> {
  const id = asRunId(runId);
  const judged = (await stores.recovery.ownerships([id])).get(id);
  if (judged === undefined) throw new Error(`run ${runId} has no owner`);
  const next = { owner: { host: hostname(), pid }, heartbeatAt: heartbeatAt ?? judged.heartbeatAt };
  expect((await stores.recovery.claim(id, judged, next)).kind).not.toBe('lost');
}

/** Makes the run's owner a process of this host that no longer exists, as when a replica is killed. */
async function ownedByTheDead(stores: Stores, runId: string): Promise<void> {
  const pid = spawnSync('true').pid;
  if (pid === undefined) throw new Error('no pid');
  await ownedBy(stores, runId, pid);
}

/** A live process of this host to stand for a replica. */
function replicaProcess(): ChildProcess & { pid: number } {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  if (child.pid === undefined) throw new Error('no pid');
  return child as ChildProcess & { pid: number };
}

/**
 * The run 'dying' drives, its job running on a runner: what a replica that stops or dies leaves. It
 * is destroyed (its drain skipped), or closed when `stop` says so.
 */
async function runningOnADyingReplica(
  openStores: OpenReplicaStores,
  stores: Stores,
  stop: 'destroy' | 'close' = 'destroy',
) {
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
  // Sweeps only at its start, when the run is still driven: only a resume makes it look again.
  const other = await startTestServer({ stores: await openStores(), takeoverIntervalMs: 3_600_000 });
  if (stop === 'close') expect((await dying.server.close()).jobsLeftRunning).toBe(1);
  else await dying.server.destroy();
  return { runId, own, lease, other };
}

type Resumable = Awaited<ReturnType<typeof runningOnADyingReplica>>;

/**
 * The runner comes back to `other` resuming its lease and completes its job; `meanwhile` runs once its
 * completion is sent (with the session, to see whether it was refused yet). The run must succeed with
 * the job in its first attempt, no message of the runner refused.
 */
async function resumesInAttemptOne(
  { runId, own, lease, other }: Resumable,
  meanwhile?: (returning: { readonly refused: readonly unknown[] }) => Promise<void>,
): Promise<void> {
  const returning = await openSession(other.server.url, own, [
    { jobId: lease.jobId, fencingToken: lease.fencingToken },
  ]);
  try {
    returning.transport.send(jobCompleted(lease));
    await meanwhile?.(returning);
    const run = await waitForRunStatus(other.request, runId, 'succeeded');
    expect(run.jobs[0]?.status).toBe('succeeded');
    expect(returning.refused).toEqual([]);
    expect((await jobOf(other, runId)).attempt).toBe(1);
  } finally {
    returning.transport.close();
  }
}

/**
 * A replica of this host dies while a runner runs a job of a run it drives; the runner reconnects at
 * once — behind a load balancer, to another replica, whose next sweep is far off (an hour here). That
 * replica takes the run over before it answers the runner's `register`, holding the job's lease for
 * it, so the resume is granted and the job completes in its first attempt (docs/replicas.md).
 */
function scenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a resume of a job whose replica died takes the run over first; the job completes in attempt 1`, async () => {
    const stores = await openStores();
    try {
      const { runId, own, lease, other } = await runningOnADyingReplica(openStores, stores);
      await ownedByTheDead(stores, runId);

      await resumesInAttemptOne({ runId, own, lease, other });
    } finally {
      await stores.close();
    }
  }, 30_000);
}

/**
 * As above, but the replica is stopping past its drain: its runs' heartbeats stopped and it closed its
 * runner connections, but its process has not exited yet when the runner registers elsewhere. The
 * register waits for it to exit, then the run is taken over and the resume granted.
 */
function stoppingScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a resume of a job whose replica is stopping waits for it to exit; the job completes in attempt 1`, async () => {
    const stores = await openStores();
    const stopping = replicaProcess();
    try {
      const { runId, own, lease, other } = await runningOnADyingReplica(openStores, stores);
      await ownedBy(stores, runId, stopping.pid);
      await resumesInAttemptOne({ runId, own, lease, other }, async (returning) => {
        // Time for a replica that would not wait to refuse the resume (it does so within milliseconds).
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        expect(returning.refused).toEqual([]);
        stopping.kill('SIGKILL');
        await once(stopping, 'exit');
      });
    } finally {
      stopping.kill('SIGKILL');
      await stores.close();
    }
  }, 30_000);
}

/** A replica of this host that still beats drives its run: a resume elsewhere is refused, as before. */
function aliveScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a resume of a job whose replica of this host still beats is refused`, async () => {
    const stores = await openStores();
    const alive = replicaProcess();
    try {
      const { runId, own, lease, other } = await runningOnADyingReplica(openStores, stores);
      await ownedBy(stores, runId, alive.pid);
      const returning = await openSession(other.server.url, own, [
        { jobId: lease.jobId, fencingToken: lease.fencingToken },
      ]);
      // It beats, as a replica does every 2 s.
      const beats = setInterval(
        () => void ownedBy(stores, runId, alive.pid, Date.now()).catch(() => undefined),
        500,
      );
      try {
        await until(
          () =>
            returning.refused.some((message) => message.type === 'error' && message.refused === 'register'),
          'the replica that does not drive the run refuses the resume',
        );
        clearInterval(beats);
        const { run } = (await other.request('GET', `/api/v1/runs/${runId}`)).body as {
          run: { status: string };
        };
        expect(run.status).toBe('running');
      } finally {
        clearInterval(beats);
        returning.transport.close();
      }
    } finally {
      alive.kill('SIGKILL');
      await stores.close();
    }
  }, 30_000);
}

/**
 * A replica stops past its drain (SIGTERM; its job still running on a runner when --drain-timeout
 * ends): it releases its run once its runner connections are closed (RunRecoveryStore.release). The
 * other replica takes it over on the runner's resume — holding the job's lease, though the driver's
 * process cannot be checked from there: here it is this test's process, which the other replica
 * judges as it judges a replica of another host (by its heartbeat, as its pid is the replica's own).
 */
function releasedScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a resume of a job whose replica of another host stopped past its drain takes the run over; the job completes in attempt 1`, async () => {
    const stores = await openStores();
    try {
      const { runId, own, lease, other } = await runningOnADyingReplica(openStores, stores, 'close');
      expect(
        (await stores.recovery.ownerships([asRunId(runId)])).get(asRunId(runId))?.releasedAt,
      ).toBeDefined();
      await resumesInAttemptOne({ runId, own, lease, other });
    } finally {
      await stores.close();
    }
  }, 30_000);
}

/**
 * The runner's register reaches the other replica before the stopping replica of another host has
 * released the run (it does so a moment after it closed its runner connections): the register waits
 * for the release, then the run is taken over and the resume granted.
 */
function releaseAfterRegisterScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a resume waits for the release of a run whose replica of another host stops; the job completes in attempt 1`, async () => {
    const stores = await openStores();
    try {
      const { runId, own, lease, other } = await runningOnADyingReplica(openStores, stores);
      const elsewhere = { host: `${hostname()}-elsewhere`, pid: 4242 };
      const id = asRunId(runId);
      const judged = (await stores.recovery.ownerships([id])).get(id);
      const stopping = { owner: elsewhere, heartbeatAt: Date.now() };
      expect((await stores.recovery.claim(id, judged, stopping)).kind).toBe('claimed');
      await resumesInAttemptOne({ runId, own, lease, other }, async (returning) => {
        // Time for a replica that would not wait to refuse the resume (it does so within milliseconds).
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(returning.refused).toEqual([]);
        expect(await stores.recovery.release(id, elsewhere, Date.now())).toBe(true);
      });
    } finally {
      await stores.close();
    }
  }, 30_000);
}

onBothStores('a runner resuming on another replica the job of a replica that died', (name, openStores) => {
  scenario(name, openStores);
  stoppingScenario(name, openStores);
  aliveScenario(name, openStores);
  releasedScenario(name, openStores);
  releaseAfterRegisterScenario(name, openStores);
});
