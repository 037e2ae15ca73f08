import { describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../src/core/outcome.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';

/** setup → build → deploy, and lint beside them. */
const pipeline = `name: pipeline
jobs:
  setup: { runs-on: linux, steps: [{ run: make setup }] }
  lint: { runs-on: linux, steps: [{ run: make lint }] }
  build: { needs: setup, runs-on: linux, steps: [{ run: make }] }
  deploy: { needs: build, runs-on: linux, steps: [{ run: ./deploy }] }
`;

describe('POST /api/v1/runs with jobs', () => {
  it('plans the named jobs and what they need, and a re-run keeps to them', async () => {
    const { server, request, token } = await startTestServer();
    const created = await request('POST', '/api/v1/runs', { body: { workflow: pipeline, jobs: ['build'] } });
    expect(created.status).toBe(201);
    const run = (created.body as { run: { id: string } }).run;
    // The run view says it was narrowed: its job list alone reads as the whole workflow's run.
    expect(created.body).toMatchObject({ run: { selectedJobs: ['build'] } });
    expect((await request('GET', `/api/v1/runs/${run.id}`)).body).toMatchObject({
      run: { selectedJobs: ['build'] },
    });

    const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
    const complete = async (index: number, outcome: JobOutcome) => {
      const lease = (await runner.leases(index + 1))[index];
      if (lease === undefined) throw new Error(`no lease ${index}`);
      runner.transport.send(jobCompleted(lease, outcome));
      return lease.job.key;
    };
    expect(await complete(0, { kind: 'succeeded' })).toBe('setup');
    expect(await complete(1, { kind: 'failed', reason: 'exit code 2', exitCode: 2 })).toBe('build');
    await waitForRunStatus(request, run.id, 'failed');

    expect((await request('POST', `/api/v1/runs/${run.id}/rerun`)).status).toBe(202);
    expect(await complete(2, { kind: 'succeeded' })).toBe('build');
    const succeeded = await waitForRunStatus(request, run.id, 'succeeded');
    expect(succeeded.jobs).toMatchObject([
      { name: 'setup', status: 'succeeded', attempt: 1 },
      { name: 'build', status: 'succeeded', attempt: 2 },
    ]);
    expect(succeeded.jobs).toHaveLength(2);
    runner.transport.close();
  });

  it('leaves selectedJobs out of the view of a run of every job', async () => {
    const { request } = await startTestServer();
    const whole = await request('POST', '/api/v1/runs', { body: { workflow: pipeline } });
    expect((whole.body as { run: object }).run).not.toHaveProperty('selectedJobs');
  });

  it('refuses a job id the workflow does not have with 400 VK_INVALID_REQUEST listing its ids, creating nothing', async () => {
    const { request } = await startTestServer();
    const refused = await request('POST', '/api/v1/runs', {
      body: { workflow: pipeline, path: 'ci.yml', jobs: ['lint', 'test'] },
    });
    expect(refused).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_REQUEST',
        path: 'body.jobs',
        message: '"test" is not a job of ci.yml; its jobs: setup, lint, build, deploy',
      },
    });
    const listed = await request('GET', '/api/v1/runs');
    expect((listed.body as { runs: unknown[] }).runs).toEqual([]);
  });
});
