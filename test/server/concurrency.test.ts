import { describe, expect, it } from 'vitest';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';

const deploy = (extra = '') => `name: deploy
concurrency:
  group: deploy-\${{ vars.env }}
${extra}jobs:
  ship:
    runs-on: linux
    steps:
      - run: ./ship
`;

type Request = Awaited<ReturnType<typeof startTestServer>>['request'];

async function submit(request: Request, workflow: string): Promise<string> {
  const created = await request('POST', '/api/v1/runs', { body: { workflow, vars: { env: 'prod' } } });
  expect(created.status).toBe(201);
  return (created.body as { run: { id: string } }).run.id;
}

describe("the server honours a workflow's concurrency group", () => {
  it("gives each run its own group when the group uses github.run_id (GitHub's head_ref || run_id idiom)", async () => {
    const { server, request, token } = await startTestServer();
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 2);
    const ci = `name: ci
concurrency:
  group: \${{ github.workflow }}-\${{ github.head_ref || github.run_id }}
  cancel-in-progress: true
jobs:
  test:
    runs-on: linux
    steps:
      - run: make
`;
    const first = await submit(request, ci);
    const second = await submit(request, ci);
    // In one group, the second would have cancelled the first: both run, side by side.
    const leases = await runner.leases(2);
    expect(leases.map((lease) => lease.jobId.split('.')[0]).sort()).toEqual([first, second].sort());
    for (const lease of leases) runner.transport.send(jobCompleted(lease));
    await waitForRunStatus(request, first, 'succeeded');
    await waitForRunStatus(request, second, 'succeeded');
    runner.transport.close();
  });

  it('holds a second run of the group queued until the first finishes', async () => {
    const { server, request, token } = await startTestServer();
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 2);
    const first = await submit(request, deploy());
    const second = await submit(request, deploy());
    const [lease] = await runner.leases(1);
    if (!lease) throw new Error('no lease');
    expect(lease.jobId.startsWith(`${first}.`)).toBe(true);
    // Several gate polls later the second run still waits, and none of its jobs was leased.
    await new Promise((resolve) => setTimeout(resolve, 600));
    await waitForRunStatus(request, second, 'queued');
    expect(await runner.leases(1)).toHaveLength(1);

    runner.transport.send(jobCompleted(lease));
    await waitForRunStatus(request, first, 'succeeded');
    const next = (await runner.leases(2))[1];
    expect(next?.jobId.startsWith(`${second}.`)).toBe(true);
    // It started when the group admitted it: its wait is not part of its run time.
    const view = async (id: string) =>
      ((await request('GET', `/api/v1/runs/${id}`)).body as { run: Record<string, number> }).run;
    const [ended, admitted] = [await view(first), await view(second)];
    expect(admitted.startedAt).toBeGreaterThanOrEqual(ended.finishedAt ?? Number.POSITIVE_INFINITY);
    expect(admitted.createdAt).toBeLessThan(ended.finishedAt ?? 0);
    runner.transport.close();
  });

  it('a newer run replaces a waiting one, which ends cancelled without running', async () => {
    const { server, request, token } = await startTestServer();
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 3);
    const running = await submit(request, deploy());
    await runner.leases(1);
    const waiting = await submit(request, deploy());
    await new Promise((resolve) => setTimeout(resolve, 300));
    await submit(request, deploy());
    await waitForRunStatus(request, waiting, 'cancelled');
    const { run } = (await request('GET', `/api/v1/runs/${waiting}`)).body as {
      run: { jobs: { status: string }[] };
    };
    expect(run.jobs.map((job) => job.status)).toEqual(['cancelled']);
    await waitForRunStatus(request, running, 'running');
    runner.transport.close();
  });

  it('refuses a group whose expression cannot be evaluated, creating nothing', async () => {
    const { request } = await startTestServer();
    const bad = deploy().replace('deploy-${{ vars.env }}', "deploy-${{ fromJSON('{') }}");
    const refused = await request('POST', '/api/v1/runs', { body: { workflow: bad } });
    expect(refused).toMatchObject({
      status: 400,
      body: { code: 'VK_EXPRESSION', path: 'body.workflow', message: expect.stringContaining('concurrency') },
    });
    const { runs } = (await request('GET', '/api/v1/runs')).body as { runs: unknown[] };
    expect(runs).toEqual([]);
  });
});
