import { describe, expect, it } from 'vitest';
import {
  adminToken,
  type RunBody,
  readEvents,
  runningJob,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';

describe('which runner ran a job', () => {
  it("a fleet job's log starts with a system line naming its runner, in the log API and the run's events", async () => {
    const live = await startTestServer();
    const job = await runningJob(live);
    job.log('hello from the step');
    job.succeed();
    await waitForRunStatus(live.request, job.runId, 'succeeded');
    const { runners } = (await live.request('GET', '/api/v1/runners')).body as {
      runners: { id: string; name: string }[];
    };
    const runnerId = runners.find((runner) => runner.name === 'scripted')?.id;
    expect(runnerId).toMatch(/^[0-9a-f]{12}$/);
    const line = `running on runner scripted (${runnerId})`;
    const log = await live.request('GET', `/api/v1/runs/${job.runId}/logs?job=${job.jobId}`);
    expect(log.text.split('\n').filter(Boolean)).toEqual([line, 'hello from the step']);

    const events = await readEvents(`${live.server.url}/api/v1/runs/${job.runId}/events`, adminToken);
    const ofJob = events
      .map(([, data]) => data as { type: string; stream?: string; text?: string })
      .filter((event) => event.type === 'job.started' || event.type === 'log');
    expect(ofJob.map((event) => event.text ?? event.type)).toEqual([
      'job.started',
      line,
      'hello from the step',
    ]);
    expect(ofJob[1]?.stream).toBe('system');
  });

  it("the run view names each job's runner by id and registered name, and the OpenAPI document says so", async () => {
    const live = await startTestServer();
    const job = await runningJob(live);
    // Started, not yet ended: the attempt's runner is there already.
    const running = await live.request('GET', `/api/v1/runs/${job.runId}`);
    const { runners } = (await live.request('GET', '/api/v1/runners')).body as {
      runners: { id: string; name: string }[];
    };
    const runnerId = runners.find((runner) => runner.name === 'scripted')?.id;
    expect(runnerId).toMatch(/^[0-9a-f]{12}$/);
    const ranOn = { id: runnerId, name: 'scripted' };
    expect((running.body as { run: RunBody }).run.jobs[0]?.runner).toEqual(ranOn);
    job.succeed();
    const done = await waitForRunStatus(live.request, job.runId, 'succeeded');
    expect(done.jobs.map((listed) => [listed.status, listed.runner])).toEqual([['succeeded', ranOn]]);
    const listed = (await live.request('GET', '/api/v1/runs')).body as { runs: RunBody[] };
    expect(listed.runs[0]?.jobs[0]?.runner).toEqual(ranOn);

    const doc = (await live.request('GET', '/api/v1/openapi.json', { token: null })).body;
    expect(JSON.stringify(doc)).toContain('the runner that started this attempt');
  });
});
