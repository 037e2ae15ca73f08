import { describe, expect, it } from 'vitest';
import type { JobId, RunId } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import { RunHeartbeat } from '../../src/engine/run-heartbeat.js';
import { runLiveness } from '../../src/engine/run-liveness.js';
import { thisProcess } from '../../src/engine/run-owner.js';
import type { RunOwnership } from '../../src/store/recovery.js';
import type { JobRecord } from '../../src/store/runs.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { storeFactories } from '../store/factories.js';
import { useStores } from '../store/fixture.js';
import { closedAfterEach, oneJobWorkflow, runRequest } from './plane-fixtures.js';
import { accepting, ScriptedRunner } from './scripted-runner.js';

const stored = {
  workspace: '/tmp',
  actor: 't',
  vars: {},
  envOverrides: {},
  extraLabels: [],
  secretNames: [],
};
const replicaB = { host: 'replica-b', pid: 2 };

/** Waits (in real time: the writes are the store's) until `check` holds of the run's only job. */
async function jobStored(
  stores: Stores,
  runId: RunId,
  check: (job: JobRecord) => boolean,
): Promise<JobRecord> {
  for (let tries = 0; tries < 300; tries++) {
    const [job] = await stores.runs.listJobs(runId);
    if (job !== undefined && check(job)) return job;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the job was never stored so');
}

for (const [name, make, skip] of storeFactories) {
  describe.skipIf(skip !== undefined)(`${name}: a stalled control plane whose run was taken over`, () => {
    const stores = useStores(make);
    const closing = closedAfterEach();

    it("has its late writes refused, changing nothing of the new owner's job, and stops driving the run", async () => {
      // A drives the run as this process; its heartbeat runs on a clock that stands still: A stalls.
      const clockA = new ManualClock(1_700_000_000_000);
      const told: string[] = [];
      const a: ControlPlane = closing(
        new ControlPlane(stores(), {
          clock: clockA,
          runTakenOver: (runId) => {
            told.push(runId);
            a.abandonRun(runId);
          },
        }),
      );
      const runner = new ScriptedRunner(a, accepting, {
        identity: { runnerId: 'rnr_1', transport: 'websocket' },
      });
      const workflow = oneJobWorkflow();
      const handle = await a.startRun(workflow, runRequest);
      const runId = handle.id;
      const ownership: RunOwnership = { owner: thisProcess(), heartbeatAt: clockA.now() };
      await stores().recovery.saveResumable(runId, { source: 'jobs: {}', request: stored }, ownership);
      const heartbeat = new RunHeartbeat(stores().recovery, runId, thisProcess(), clockA, () =>
        told.push('beat'),
      );
      heartbeat.start();
      for (let tries = 0; runner.of('lease').length === 0 && tries < 300; tries++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      const [lease] = runner.of('lease');
      if (lease === undefined) throw new Error('no lease');
      const { jobId, fencingToken } = lease;
      runner.send({ type: 'step.started', jobId, fencingToken, index: 0, name: 'step', at: 1 });
      await jobStored(stores(), runId, (job) => job.status === 'running');
      for (
        let tries = 0;
        (await stores().runs.listSteps(jobId as JobId)).length === 0 && tries < 300;
        tries++
      )
        await new Promise((resolve) => setTimeout(resolve, 10));

      // B, another replica 7 s later, finds the heartbeat stale and takes the run over as RunTakeover does.
      const clockB = new ManualClock(clockA.now() + 7_000);
      const b = await stores.another({ runOwner: replicaB });
      const judged = runLiveness(
        'running',
        (await b.recovery.ownerships([runId])).get(runId),
        clockB.now(),
        () => false,
      );
      if (judged.kind !== 'interrupted') throw new Error(`the run is ${judged.kind}`);
      const next = { owner: replicaB, heartbeatAt: clockB.now() };
      expect(await b.recovery.claim(runId, judged.ownership, next)).toEqual({ kind: 'claimed' });
      const planeB = closing(new ControlPlane(b, { clock: clockB }));
      const record = await b.runs.getRun(runId);
      if (record === undefined) throw new Error('no run');
      planeB.continueRun('resume', workflow, runRequest, record, await b.runs.listJobs(runId));
      const requeued = await jobStored(b, runId, (job) => job.status === 'queued' && job.attempt === 2);

      // A wakes up: its runner prints and finishes the job under A's lease, which A still holds.
      runner.send({
        type: 'log',
        jobId,
        fencingToken,
        first: 0,
        entries: [{ stepIndex: 0, stream: 'stdout', at: 2, text: 'printed after the takeover' }],
      });
      runner.send({
        type: 'step.completed',
        jobId,
        fencingToken,
        step: { index: 0, name: 'step', outcome: 'success', conclusion: 'success', finishedAt: 2 },
      });
      runner.complete(lease);
      await expect(handle.done).rejects.toMatchObject({ code: 'VK_RUN_TAKEN_OVER' });
      await settle();
      expect(told).toEqual([runId]);

      const [job] = await b.runs.listJobs(runId);
      expect(job).toEqual(requeued);
      expect((await b.runs.getRun(runId))?.status).toBe('running');
      const steps = await b.runs.listSteps(jobId as JobId);
      expect(steps.filter((step) => step.outcome === 'success')).toEqual([]);
      // Nor is its output added to the attempt B ended: the append is refused as the other writes are.
      const lines = (await b.logs.read(runId)).map((line) => line.text);
      expect(lines).not.toContain('printed after the takeover');
      expect(lines.at(-1)).toMatch(/^attempt 1 ended \(runner_lost: .*\); requeued as attempt 2$/);
      heartbeat.stop();
    });
  });
}
