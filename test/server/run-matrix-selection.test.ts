import { describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../src/core/outcome.js';
import { submissionFingerprint } from '../../src/server/submission-fingerprint.js';
import {
  connectScriptedRunner,
  credential,
  jobCompleted,
  startTestServer,
  waitForRunStatus,
} from './helpers.js';

/** test over os × node, then report. */
const crossOs = `name: ci
jobs:
  test:
    strategy:
      matrix:
        os: [linux, windows, macos]
        node: [20, 22]
    runs-on: linux
    steps: [{ run: make test }]
  report: { needs: test, runs-on: linux, steps: [{ run: make report }] }
`;

describe('POST /api/v1/runs with matrix', () => {
  it('plans only the legs it keeps, then the job that needs them, and a re-run keeps to them', async () => {
    const { server, request, token } = await startTestServer();
    const created = await request('POST', '/api/v1/runs', {
      body: { workflow: crossOs, matrix: { os: ['linux'] } },
    });
    expect(created.status).toBe(201);
    const run = (created.body as { run: { id: string } }).run;
    expect(created.body).toMatchObject({ run: { matrixFilter: { os: ['linux'] } } });

    const runner = await connectScriptedRunner(server.url, await credential(request, token), 2);
    const complete = async (index: number, outcome: JobOutcome) => {
      const lease = (await runner.leases(index + 1))[index];
      if (lease === undefined) throw new Error(`no lease ${index}`);
      runner.transport.send(jobCompleted(lease, outcome));
      return lease.job.name;
    };
    expect(await complete(0, { kind: 'succeeded' })).toBe('test (linux, 20)');
    expect(await complete(1, { kind: 'failed', reason: 'exit code 2', exitCode: 2 })).toBe(
      'test (linux, 22)',
    );
    await waitForRunStatus(request, run.id, 'failed');

    expect((await request('POST', `/api/v1/runs/${run.id}/rerun`)).status).toBe(202);
    expect(await complete(2, { kind: 'succeeded' })).toBe('test (linux, 22)');
    expect(await complete(3, { kind: 'succeeded' })).toBe('report');
    const succeeded = await waitForRunStatus(request, run.id, 'succeeded');
    expect(succeeded.jobs.map((job) => job.name)).toEqual(['test (linux, 20)', 'test (linux, 22)', 'report']);
    expect((await request('GET', `/api/v1/runs/${run.id}`)).body).toMatchObject({
      run: { matrixFilter: { os: ['linux'] } },
    });
    runner.transport.close();
  });

  it('refuses a key no matrix has, or a filter that leaves a job no legs, with 400 at body.matrix', async () => {
    const { request } = await startTestServer();
    const typo = await request('POST', '/api/v1/runs', {
      body: { workflow: crossOs, matrix: { oss: ['linux'] } },
    });
    expect(typo).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_REQUEST',
        path: 'body.matrix',
        message:
          'body.matrix: no matrix of the jobs to run has the key "oss" (did you mean "os"?); their matrix keys: os, node',
      },
    });
    const none = await request('POST', '/api/v1/runs', {
      body: { workflow: crossOs, matrix: { node: ['18'] } },
    });
    expect(none).toMatchObject({
      status: 400,
      body: {
        path: 'body.matrix',
        message: 'body.matrix: node=18 leaves job "test" no legs (its node values: 20, 22)',
      },
    });
    const empty = await request('POST', '/api/v1/runs', { body: { workflow: crossOs, matrix: { os: [] } } });
    expect(empty.status).toBe(400);
    expect((await request('GET', '/api/v1/runs')).body).toMatchObject({ runs: [] });
  });

  it('refuses a control character in a key or a value with 400 at its path, storing nothing', async () => {
    const { request } = await startTestServer();
    const submit = (matrix: Record<string, string[]>) =>
      request('POST', '/api/v1/runs', { body: { workflow: crossOs, matrix } });
    expect(await submit({ os: ['linux', 'x\u001b[31mRED'] })).toMatchObject({
      status: 400,
      body: {
        code: 'VK_INVALID_REQUEST',
        path: 'body.matrix.os.1',
        message: 'body.matrix.os.1: no control characters (newline, NUL, ESC, …)',
      },
    });
    expect(await submit({ 'o\u001bs': ['linux'] })).toMatchObject({
      status: 400,
      body: { code: 'VK_INVALID_REQUEST', path: 'body.matrix."o\\u001bs"' },
    });
    expect((await submit({ os: ['a\nb'] })).status).toBe(400);
    expect((await request('GET', '/api/v1/runs')).body).toMatchObject({ runs: [] });
  });

  it('counts only the kept legs against the queue capacity', async () => {
    const { request } = await startTestServer({ queueCapacity: 3 });
    // 6 legs and report: the whole run could never be queued; its 2 kept legs and report can.
    const whole = await request('POST', '/api/v1/runs', { body: { workflow: crossOs } });
    expect(whole).toMatchObject({ status: 422, body: { code: 'VK_QUEUE_FULL' } });
    const created = await request('POST', '/api/v1/runs', {
      body: { workflow: crossOs, matrix: { os: ['linux'] } },
    });
    expect(created.status).toBe(201);
  });

  it("counts each key's values as a set in the idempotency fingerprint", () => {
    const resolved = { priority: 'normal' as const, event: 'push', inputs: {} };
    const print = (matrix?: Record<string, string[]>) =>
      submissionFingerprint({ workflow: crossOs, ...(matrix ? { matrix } : {}) }, crossOs, resolved);
    expect(print({ os: ['linux', 'macos'] })).toBe(print({ os: ['macos', 'linux', 'linux'] }));
    expect(print({ os: ['linux'] })).not.toBe(print({ os: ['macos'] }));
    expect(print()).not.toBe(print({ os: ['linux'] }));
  });
});
