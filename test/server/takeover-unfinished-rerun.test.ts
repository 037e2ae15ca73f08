import { expect, it } from 'vitest';
import { clockAhead } from './clock-ahead.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  runningJob,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

/** The wall clock 10 s on: past the 6 s after which a run's heartbeat is stale (run-liveness.ts). */
const laterClock = clockAhead(10_000);

const workflow = `name: chain
jobs:
  build: { runs-on: linux, steps: [{ run: make }] }
  after: { needs: build, runs-on: linux, steps: [{ run: echo after }] }
`;

function takeoverScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a re-run taken over before it planned the job after the failed one runs that job again, once`, async () => {
    const first = await startTestServer({ stores: await openStores() });
    const build = await runningJob(first, workflow);
    build.fail();
    const failed = await waitForRunStatus(first.request, build.runId, 'failed');
    expect(failed.jobs.map((job) => [job.name, job.status])).toEqual([
      ['build', 'failed'],
      ['after', 'skipped'],
    ]);
    build.runner.transport.close();
    // Re-run with no runner connected: build waits in the queue, after still holds its skipped.
    const rerun = await first.request('POST', `/api/v1/runs/${build.runId}/rerun`, { body: {} });
    expect(rerun.status).toBe(202);
    await first.server.destroy();

    const second = await startTestServer({
      stores: await openStores(),
      clock: laterClock,
      logNotice: () => {},
    });
    const runner = await connectScriptedRunner(
      second.server.url,
      await credential(second.request, second.token),
      1,
    );
    const [again] = await runner.leases(1);
    expect(again?.jobId).toBe(build.jobId);
    if (again !== undefined) runner.transport.send(jobCompleted(again, { kind: 'succeeded' }));
    const [, after] = await runner.leases(2);
    if (after === undefined) throw new Error('no lease for after');
    runner.transport.send(jobCompleted(after, { kind: 'succeeded' }));
    const succeeded = await waitForRunStatus(second.request, build.runId, 'succeeded');
    expect(succeeded.jobs.map((job) => [job.id, job.name, job.status, job.attempt])).toEqual([
      [build.jobId, 'build', 'succeeded', 2],
      [failed.jobs[1]?.id, 'after', 'succeeded', 2],
    ]);
    runner.transport.close();
    await second.server.destroy();
  }, 20_000);
}

onBothStores('a server taking over a re-run left unfinished', takeoverScenario);
