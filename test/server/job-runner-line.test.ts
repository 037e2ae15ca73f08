import { describe, expect, it } from 'vitest';
import { adminToken, readEvents, runningJob, startTestServer, waitForRunStatus } from './helpers.js';

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
});
