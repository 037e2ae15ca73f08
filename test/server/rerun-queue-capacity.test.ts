import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { collect, valkyrieBin } from '../e2e/cli.js';
import { adminToken, startTestServer, type TestServer, waitForRunStatus } from './helpers.js';

// No runner takes x: a job queued stays unfinished.
const long = [
  'name: long',
  'jobs:',
  '  a:',
  '    runs-on: x',
  '    steps: [{run: "sleep 60"}]',
  '  b:',
  '    needs: a',
  '    runs-on: x',
  '    steps: [{run: "true"}]',
].join('\n');
const build = 'name: ci\njobs:\n  build:\n    runs-on: x\n    steps: [{run: "true"}]';

/** The value of `valkyrie_jobs_unfinished` in the server's /metrics. */
async function unfinishedJobs({ request }: TestServer): Promise<number> {
  const line = (await request('GET', '/metrics')).text
    .split('\n')
    .find((candidate) => candidate.startsWith('valkyrie_jobs_unfinished '));
  return Number(line?.split(' ')[1]);
}

async function submit({ request }: TestServer, workflow: string): Promise<{ status: number; runId: string }> {
  const { status, body } = await request('POST', '/api/v1/runs', { body: { workflow } });
  return { status, runId: (body as { run?: { id: string } }).run?.id ?? '' };
}

/** `valkyrie rerun RUN --server URL` as a user runs it. */
function rerunCommand({ server }: TestServer, runId: string) {
  const args = [valkyrieBin, 'rerun', runId, '--server', server.url, '--token', adminToken];
  return collect(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
}

async function cancelled(live: TestServer, runId: string): Promise<void> {
  expect((await live.request('POST', `/api/v1/runs/${runId}/cancel`)).status).toBe(202);
  await waitForRunStatus(live.request, runId, 'cancelled');
}

describe('valkyrie server: a re-run and the queue capacity', () => {
  it('refuses a re-run past the capacity (429 VK_QUEUE_FULL), changing nothing, and counts an accepted one whole', async () => {
    const live = await startTestServer({ queueCapacity: 2 });
    const first = await submit(live, long);
    await cancelled(live, first.runId);
    const before = (await live.request('GET', `/api/v1/runs/${first.runId}`)).body;
    const second = await submit(live, long);
    expect(second.status).toBe(201);

    const refused = await live.request('POST', `/api/v1/runs/${first.runId}/rerun`);
    expect(refused).toMatchObject({
      status: 429,
      headers: { 'retry-after': '30' },
      body: {
        code: 'VK_QUEUE_FULL',
        message: `the queue holds 2 unfinished jobs; 2 more would exceed its capacity of 2; run ${first.runId} was not re-run`,
      },
    });
    // Still cancelled, its first attempt, no attempt of a job recorded.
    expect((await live.request('GET', `/api/v1/runs/${first.runId}`)).body).toEqual(before);
    expect(await unfinishedJobs(live)).toBe(2);
    expect((await submit(live, build)).status).toBe(429);
    // The command exits 75 (EX_TEMPFAIL: try again later), saying why.
    const command = await rerunCommand(live, first.runId);
    expect(command.code).toBe(75);
    expect(command.stderr).toContain('(HTTP 429): VK_QUEUE_FULL: the queue holds 2 unfinished jobs');
    expect((await live.request('GET', `/api/v1/runs/${first.runId}`)).body).toEqual(before);

    await cancelled(live, second.runId);
    const rerun = await live.request('POST', `/api/v1/runs/${first.runId}/rerun`);
    expect(rerun).toMatchObject({ status: 202, body: { run: { status: 'running', attempt: 2 } } });
    // b waits for a, still showing its cancelled first attempt: counted all the same.
    expect(await unfinishedJobs(live)).toBe(2);
    expect(await submit(live, build)).toMatchObject({ status: 429 });
  });

  it('refuses a re-run with more jobs than the whole queue with 422 and no Retry-After', async () => {
    const earlier = await startTestServer({ queueCapacity: 2 });
    const run = await submit(earlier, long);
    await cancelled(earlier, run.runId);
    await earlier.server.destroy();
    // The same store served with a smaller capacity, as after a restart with another --queue-capacity.
    const live = await startTestServer({
      queueCapacity: 1,
      stores: openSqliteStores(join(earlier.dir, 'valkyrie.db')),
    });
    const refused = await live.request('POST', `/api/v1/runs/${run.runId}/rerun`);
    expect(refused.status).toBe(422);
    expect(refused.headers['retry-after']).toBeUndefined();
    expect(refused.body).toMatchObject({
      code: 'VK_QUEUE_FULL',
      message: expect.stringMatching(
        /^this re-run alone has 2 jobs, more than the queue capacity of 1 .*can never be queued/,
      ),
    });
    // It can never be queued: exit 2, on which no wrapper retries.
    expect(await rerunCommand(live, run.runId)).toMatchObject({ code: 2 });
    expect((await live.request('GET', `/api/v1/runs/${run.runId}`)).body).toMatchObject({
      run: { status: 'cancelled' },
    });
  });
});
