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

describe('a job’s log lines over the API and valkyrie logs --server', () => {
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

  it('answers a page at a time, and logs --server reads every page', async () => {
    const live = await startTestServer();
    const job = await runningJob(live);
    const texts = Array.from({ length: 2500 }, (_, i) => `line ${i}`);
    for (let from = 0; from < texts.length; from += 1000) {
      const entries = texts
        .slice(from, from + 1000)
        .map((text) => ({ stepIndex: 0, stream: 'stdout' as const, at: 1, text }));
      job.runner.transport.send({ type: 'log', jobId: job.jobId, fencingToken: job.fencingToken, entries });
    }
    job.succeed();
    await waitForRunStatus(live.request, job.runId, 'succeeded');

    type Page = { lines: { text: string; stream: string }[]; next?: number };
    const url = `/api/v1/runs/${job.runId}/log-lines?job=${job.jobId}`;
    const pages: Page[] = [];
    let after: number | undefined;
    do {
      const answer = await live.request('GET', after === undefined ? url : `${url}&after=${after}`);
      expect(answer.status).toBe(200);
      const page = answer.body as Page;
      pages.push(page);
      after = page.next;
    } while (after !== undefined);
    expect(pages.map((page) => page.lines.length).slice(0, 2)).toEqual([1000, 1000]);
    const all = pages.flatMap((page) => page.lines);
    expect(all.filter((line) => line.stream === 'stdout').map((line) => line.text)).toEqual(texts);

    // A full page that is the last one has no next; one line short of it has.
    const exact = await live.request('GET', `${url}&limit=${all.length - 1000 * 2}&after=${pages[1]?.next}`);
    expect(exact.body).not.toHaveProperty('next');
    expect((exact.body as Page).lines).toHaveLength(all.length - 2000);
    const short = (await live.request('GET', `${url}&limit=2`)).body as Page;
    expect(short.lines).toHaveLength(2);
    const rest = (await live.request('GET', `${url}&limit=1000&after=${short.next}`)).body as Page;
    expect(rest.lines[0]).toEqual(all[2]);
    for (const bad of ['limit=0', 'limit=1001', 'after=-1', 'after=x'])
      expect((await live.request('GET', `${url}&${bad}`)).status).toBe(400);
    const doc = (await live.request('GET', '/api/v1/openapi.json', { token: null })).body as {
      paths: Record<string, Record<string, { parameters: { name: string }[] }>>;
    };
    const names = doc.paths['/api/v1/runs/{id}/log-lines']?.get?.parameters.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['job', 'after', 'limit']));
    expect(JSON.stringify(doc)).toContain('pass as `after` for the next page');

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
        .filter((line) => line.startsWith('line ')),
    ).toEqual(texts);
  });
});
