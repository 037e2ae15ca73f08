import { expect, it } from 'vitest';
import { clockAhead } from './clock-ahead.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

/** The wall clock 10 s on: past the 6 s after which a run's heartbeat is stale (run-liveness.ts). */
const laterClock = clockAhead(10_000);

/** `report` is planned only once `build` is done: it has no record while `build` waits for a runner. */
const workflow = `name: with-report
jobs:
  build: { runs-on: linux, steps: [{ run: 'echo \${{ secrets.TOKEN }}' }] }
  report:
    name: report for \${{ github.ref_name }} of \${{ github.repository }} at \${{ github.sha }}
    needs: build
    if: always()
    runs-on: linux
    steps: [{ run: echo report }]
`;

/** What `valkyrie submit` sends from a checkout of acme/widgets at main. */
const git = { sha: 'abc1234'.padEnd(40, '0'), ref: 'refs/heads/main', repository: 'acme/widgets' };
const reportName = `report for main of acme/widgets at ${git.sha}`;

function takeoverScenario(name: string, openStores: OpenReplicaStores): void {
  it(`${name}: a job a run taken over never planned is named from the run's git context, and its re-run lists it once`, async () => {
    const first = await startTestServer({ stores: await openStores() });
    const created = await first.request('POST', '/api/v1/runs', {
      body: { workflow, git, secrets: { TOKEN: 'x' } },
    });
    expect(created.status).toBe(201);
    const runId = (created.body as { run: { id: string } }).run.id;
    await first.server.destroy();

    const second = await startTestServer({
      stores: await openStores(),
      clock: laterClock,
      logNotice: () => {},
    });
    const cancelled = await waitForRunStatus(second.request, runId, 'cancelled');
    expect(cancelled.jobs.map((job) => [job.name, job.status])).toEqual([
      ['build', 'cancelled'],
      [reportName, 'cancelled'],
    ]);

    const rerun = await second.request('POST', `/api/v1/runs/${runId}/rerun`, {
      body: { secrets: { TOKEN: 'x' } },
    });
    expect(rerun.status).toBe(202);
    const runner = await connectScriptedRunner(
      second.server.url,
      await credential(second.request, second.token),
      1,
    );
    const [build] = await runner.leases(1);
    if (build === undefined) throw new Error('no lease for build');
    runner.transport.send(jobCompleted(build, { kind: 'succeeded' }));
    const [, report] = await runner.leases(2);
    if (report === undefined) throw new Error('no lease for report');
    expect(report.jobId).toBe(cancelled.jobs[1]?.id);
    runner.transport.send(jobCompleted(report, { kind: 'succeeded' }));
    const succeeded = await waitForRunStatus(second.request, runId, 'succeeded');
    expect(succeeded.jobs.map((job) => [job.id, job.name, job.status, job.attempt])).toEqual([
      [build.jobId, 'build', 'succeeded', 2],
      [report.jobId, reportName, 'succeeded', 2],
    ]);
    runner.transport.close();
    await second.server.destroy();
  }, 20_000);
}

onBothStores('a server taking over a run whose jobs need its git context', takeoverScenario);
