import { spawnSync } from 'node:child_process';
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

/** Makes the run's owner a process of this host that no longer exists, as when a replica is killed. */
async function ownedByTheDead(stores: Stores, runId: string): Promise<void> {
  const id = asRunId(runId);
  const judged = (await stores.recovery.ownerships([id])).get(id);
  if (judged === undefined) throw new Error(`run ${runId} has no owner`);
  const pid = spawnSync('true').pid;
  if (pid === undefined) throw new Error('no pid');
  const dead = { owner: { host: hostname(), pid }, heartbeatAt: judged.heartbeatAt };
  expect((await stores.recovery.claim(id, judged, dead)).kind).not.toBe('lost');
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
      // Sweeps only at its start, when the run is still driven: only the resume makes it look again.
      const other = await startTestServer({ stores: await openStores(), takeoverIntervalMs: 3_600_000 });
      await dying.server.destroy();
      await ownedByTheDead(stores, runId);

      const returning = await openSession(other.server.url, own, [
        { jobId: lease.jobId, fencingToken: lease.fencingToken },
      ]);
      try {
        returning.transport.send(jobCompleted(lease));
        const run = await waitForRunStatus(other.request, runId, 'succeeded');
        expect(run.jobs[0]?.status).toBe('succeeded');
        expect(returning.refused).toEqual([]);
        expect((await jobOf(other, runId)).attempt).toBe(1);
      } finally {
        returning.transport.close();
      }
    } finally {
      await stores.close();
    }
  }, 30_000);
}

onBothStores('a runner resuming on another replica the job of a replica that died', (name, openStores) => {
  scenario(name, openStores);
});
