import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serverLogsCommand } from '../../src/cli/commands/server-history.js';
import {
  adminToken,
  jobCompleted,
  logLine,
  runningJob,
  startTestServer,
  type TestServer,
  waitForRunStatus,
} from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a job’s log lines over the API and valkyrie logs --server', () => {
  it('gives each line its job attempt, and logs --server heads every attempt as a local run’s logs do', async () => {
    const live = await startTestServer();
    const job = await jobRunTwice(live);

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

    const { code, printed } = await logsCommand(live.server.url, job.runId);
    expect(code).toBe(0);
    expect(printed.filter((line) => !line.startsWith('running on runner'))).toEqual([
      '── job attempt 1 ──',
      'c-fails',
      '── job attempt 2 ──',
      'c-passes',
      '',
    ]);
  });

  it('answers a page at a time, and logs --server reads every page', async () => {
    const live = await startTestServer();
    const job = await runningJob(live);
    const texts = Array.from({ length: 2500 }, (_, i) => `line ${i}`);
    job.logAll(texts);
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
    const refusals = {
      'limit=0': 'query.limit: must be a whole number from 1 to 1000',
      'limit=1001': 'query.limit: must be a whole number from 1 to 1000',
      'after=-1': 'query.after: must be a whole number, 0 or more',
      'after=x': 'query.after: must be a whole number, 0 or more',
      // A whole number past what the store's positions can be is refused for its size, not its form.
      'after=99999999999999999999999': `query.after: must be a whole number from 0 to ${Number.MAX_SAFE_INTEGER}`,
    };
    for (const [bad, message] of Object.entries(refusals))
      expect(await live.request('GET', `${url}&${bad}`)).toMatchObject({ status: 400, body: { message } });
    const doc = (await live.request('GET', '/api/v1/openapi.json', { token: null })).body as {
      paths: Record<string, Record<string, { parameters: { name: string }[] }>>;
    };
    const names = doc.paths['/api/v1/runs/{id}/log-lines']?.get?.parameters.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['job', 'after', 'limit']));
    const afterParameter = doc.paths['/api/v1/runs/{id}/log-lines']?.get?.parameters.find(
      (p) => p.name === 'after',
    );
    expect(afterParameter).toMatchObject({
      schema: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    });
    expect(JSON.stringify(doc)).toContain('pass as `after` for the next page');

    const { code, printed } = await logsCommand(live.server.url, job.runId);
    expect(code).toBe(0);
    expect(printed.filter((line) => line.startsWith('line '))).toEqual(texts);
  });

  it.each([
    ['an unknown route', { code: 'VK_NOT_FOUND', message: 'no route GET /api/v1/runs/x/log-lines' }],
    ['a proxy in front of it', 'Not Found'],
  ])(
    'prints the text log of a server from before /log-lines (%s answers 404), without attempt headings',
    async (_, body) => {
      const live = await startTestServer();
      const job = await jobRunTwice(live);
      const older = await withLogLinesAnswering(live.server.url, body);

      const { code, printed } = await logsCommand(older.url, job.runId);
      await older.close();
      expect(code).toBe(0);
      expect(printed.filter((line) => !line.startsWith('running on runner'))).toEqual([
        'c-fails',
        'c-passes',
        '',
      ]);
    },
  );

  it('still fails when the server has the route and not the job', async () => {
    const live = await startTestServer();
    const job = await jobRunTwice(live);
    const notFound = { code: 'VK_JOB_NOT_FOUND', message: 'no such job', path: 'query.job' };
    const server = await withLogLinesAnswering(live.server.url, notFound);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);

    const { code, printed } = await logsCommand(server.url, job.runId);
    await server.close();
    expect(code).not.toBe(0);
    expect(printed).not.toContain('c-fails');
  });
});

/** A job that failed, was re-run and succeeded: a line in each attempt. */
async function jobRunTwice(live: TestServer) {
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
  return job;
}

/** `valkyrie logs RUN --server URL`: its exit code and the lines it printed. */
async function logsCommand(server: string, runId: string) {
  const printed: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
  const code = await serverLogsCommand(runId, undefined, { server, token: adminToken });
  vi.mocked(process.stdout.write).mockRestore();
  return { code, printed: printed.join('').split('\n') };
}

/**
 * `url`'s API behind a proxy that answers every GET …/log-lines with 404 and `body`, as a server from
 * before the route does (JSON: Fastify's unknown-route answer; text: a proxy's).
 */
async function withLogLinesAnswering(url: string, body: object | string) {
  const proxy = createServer((request, response) => {
    const path = request.url ?? '/';
    if (path.split('?')[0]?.endsWith('/log-lines')) {
      const json = typeof body === 'object';
      response.writeHead(404, { 'content-type': json ? 'application/json' : 'text/plain' });
      response.end(json ? JSON.stringify(body) : body);
      return;
    }
    const authorization = request.headers.authorization ?? '';
    void fetch(`${url}${path}`, { method: request.method ?? 'GET', headers: { authorization } }).then(
      async (answer) => {
        response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? '' });
        response.end(Buffer.from(await answer.arrayBuffer()));
      },
      () => response.destroy(),
    );
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => proxy.close(() => resolve())),
  };
}
