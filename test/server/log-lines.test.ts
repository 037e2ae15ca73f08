import { afterEach, describe, expect, it, vi } from 'vitest';
import { serverLogsCommand } from '../../src/cli/commands/server-history.js';
import {
  adminToken,
  jobCompleted,
  logLine,
  runningJob,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a re-run job’s log over the API and valkyrie logs --server', () => {
  it('gives each line its job attempt, and logs --server heads every attempt as a local run’s logs do', async () => {
    const live = await startTestServer();
    const job = await runningJob(live);
    job.log('c-fails');
    job.fail();
    await waitForRunStatus(live.request, job.runId, 'failed');
    const rerun = await live.request('POST', `/api/v1/runs/${job.runId}/rerun`, { body: {} });
    expect(rerun.status).toBe(202);
    const [, second] = await job.runner.leases(2);
    if (second === undefined) throw new Error('no second lease');
    job.runner.transport.send(logLine(second, 'c-passes', 3));
    job.runner.transport.send(jobCompleted(second, { kind: 'succeeded' }, 4));
    await waitForRunStatus(live.request, job.runId, 'succeeded');

    const answer = await live.request('GET', `/api/v1/runs/${job.runId}/log-lines?job=${job.jobId}`);
    expect(answer.status).toBe(200);
    const { lines, steps } = answer.body as {
      lines: { text: string; jobAttempt?: number; stream: string }[];
      steps: unknown[];
    };
    expect(lines.filter((line) => line.stream !== 'system')).toMatchObject([
      { text: 'c-fails', stepIndex: 0 },
      { text: 'c-passes', jobAttempt: 2 },
    ]);
    expect(lines[0]).not.toHaveProperty('jobAttempt');
    expect(steps).toEqual([]);
    const missing = await live.request('GET', `/api/v1/runs/${job.runId}/log-lines?job=nope`);
    expect(missing).toMatchObject({ status: 404, body: { code: 'VK_JOB_NOT_FOUND', path: 'query.job' } });

    const printed: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    const code = await serverLogsCommand(job.runId, undefined, {
      server: live.server.url,
      token: adminToken,
    });
    vi.restoreAllMocks();
    expect(code).toBe(0);
    expect(
      printed
        .join('')
        .split('\n')
        .filter((line) => !line.startsWith('running on runner')),
    ).toEqual(['── job attempt 1 ──', 'c-fails', '── job attempt 2 ──', 'c-passes', '']);
  });
});
