import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../src/core/outcome.js';
import { collect, valkyrieBin } from '../e2e/cli.js';
import {
  adminToken,
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';

const pipeline = `name: pipeline
jobs:
  build:
    runs-on: linux
    steps:
      - run: make
  deploy:
    needs: build
    runs-on: linux
    steps:
      - run: ./deploy "\${{ secrets.TOKEN }}"
`;

describe('re-running failed jobs through the API', () => {
  it('runs the failed job and the job after it again as new attempts of the same run', async () => {
    const { server, request, token } = await startTestServer();
    const created = await request('POST', '/api/v1/runs', {
      body: { workflow: pipeline, secrets: { TOKEN: 'first' } },
    });
    const runId = (created.body as { run: { id: string } }).run.id;
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
    const complete = (index: number, outcome: JobOutcome) =>
      runner.leases(index + 1).then((leases) => {
        const lease = leases[index];
        if (lease === undefined) throw new Error(`no lease ${index}`);
        const { jobId, fencingToken } = lease;
        runner.transport.send(jobCompleted({ jobId, fencingToken }, outcome));
        return lease;
      });
    const firstBuild = await complete(0, { kind: 'failed', reason: 'exit code 2', exitCode: 2 });
    const failed = await waitForRunStatus(request, runId, 'failed');
    expect(failed.jobs).toMatchObject([
      { name: 'build', status: 'failed', attempt: 1 },
      { name: 'deploy', status: 'skipped', attempt: 1 },
    ]);

    const reader = await token('read');
    expect((await request('POST', `/api/v1/runs/${runId}/rerun`, { token: reader })).status).toBe(403);
    expect(await request('POST', `/api/v1/runs/${runId}/rerun`)).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_REQUEST',
        path: 'body.secrets',
        message: expect.stringContaining('TOKEN'),
        missingSecrets: ['TOKEN'],
      },
    });
    // The CLI names its option, not the API's field.
    const cli = await collect(
      spawn(process.execPath, [valkyrieBin, 'rerun', runId, '--server', server.url, '--token', adminToken], {
        env: { ...process.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    expect(cli).toMatchObject({ code: 2 });
    expect(cli.stderr).toBe(
      `valkyrie: run ${runId} on the server was started with secrets TOKEN, which are not stored; pass them again: --secret TOKEN=… (or --secrets-file FILE)\n`,
    );
    expect((await request('POST', '/api/v1/runs/999/rerun')).body).toMatchObject({
      code: 'VK_RUN_NOT_FOUND',
    });

    const rerun = await request('POST', `/api/v1/runs/${runId}/rerun`, {
      body: { secrets: { TOKEN: 'second' } },
    });
    expect(rerun).toMatchObject({ status: 202, body: { run: { id: runId, status: 'running', attempt: 2 } } });
    expect(
      await request('POST', `/api/v1/runs/${runId}/rerun`, { body: { secrets: { TOKEN: 'x' } } }),
    ).toMatchObject({ status: 409, body: { code: 'VK_RUN_NOT_RERUNNABLE' } });

    const secondBuild = await complete(1, { kind: 'succeeded' });
    expect(secondBuild.jobId).toBe(firstBuild.jobId);
    expect(secondBuild.fencingToken).toBeGreaterThan(firstBuild.fencingToken);
    const deploy = await complete(2, { kind: 'succeeded' });
    expect(deploy.job.contexts.secrets).toEqual({ TOKEN: 'second' });
    expect(deploy.job.contexts.github).toMatchObject({ run_attempt: '2' });
    const succeeded = await waitForRunStatus(request, runId, 'succeeded');
    expect(succeeded.jobs).toMatchObject([
      { id: firstBuild.jobId, name: 'build', status: 'succeeded', attempt: 2 },
      { id: deploy.jobId, name: 'deploy', status: 'succeeded', attempt: 2 },
    ]);
    expect(await request('POST', `/api/v1/runs/${runId}/rerun`)).toMatchObject({
      status: 409,
      body: { code: 'VK_RUN_NOT_RERUNNABLE', message: expect.stringContaining('succeeded') },
    });

    // "Re-run all jobs": a succeeded run, every job again as the next attempt.
    expect(
      await request('POST', `/api/v1/runs/${runId}/rerun`, {
        body: { secrets: { TOKEN: 't' }, jobs: 'some' },
      }),
    ).toMatchObject({ status: 400, body: { code: 'VK_INVALID_REQUEST', path: 'body.jobs' } });
    const cliAll = await collect(
      spawn(
        process.execPath,
        [
          valkyrieBin,
          'rerun',
          runId,
          '--all',
          '--secret',
          'TOKEN=third',
          '--server',
          server.url,
          '--token',
          adminToken,
        ],
        { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    expect(cliAll).toMatchObject({ code: 0 });
    expect(cliAll.stderr).toContain(`Re-running all the jobs of run ${runId} on`);
    const thirdBuild = await complete(3, { kind: 'succeeded' });
    expect(thirdBuild.jobId).toBe(firstBuild.jobId);
    const thirdDeploy = await complete(4, { kind: 'succeeded' });
    expect(thirdDeploy.job.contexts.secrets).toEqual({ TOKEN: 'third' });
    expect(thirdDeploy.job.contexts.github).toMatchObject({ run_attempt: '3' });
    const again = await waitForRunStatus(request, runId, 'succeeded');
    expect(again).toMatchObject({ attempt: 3 });
    expect(again.jobs).toMatchObject([
      { id: firstBuild.jobId, status: 'succeeded', attempt: 3 },
      { id: deploy.jobId, status: 'succeeded', attempt: 3 },
    ]);
    runner.transport.close();
  });
});
