import { createHash, randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Clock, systemClock } from '../../src/core/clock.js';
import { FileBundleStore } from '../../src/store/files/bundle-store.js';
import {
  adminToken,
  connectScriptedRunner,
  credential,
  jobCompleted,
  oneJobWorkflow,
  startTestServer,
  type TestServer,
  waitForRunStatus,
} from './helpers.js';

/** The wall clock moved on by hand: the sweep's own timer stays real, only "now" jumps. */
function shiftedClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return {
    now: () => systemClock.now() + offset,
    setTimer: (callback, delayMs, options) => systemClock.setTimer(callback, delayMs, options),
    advance(ms) {
      offset += ms;
    },
  };
}

/** A wall clock that stands still but for the test's moves, so that cut-offs fall exactly where it says. */
function heldClock(): Clock & { advance(ms: number): void } {
  let now = systemClock.now();
  return {
    now: () => now,
    setTimer: (callback, delayMs, options) => systemClock.setTimer(callback, delayMs, options),
    advance(ms) {
      now += ms;
    },
  };
}

async function upload(request: TestServer['request']): Promise<string> {
  const bytes = randomBytes(256);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const put = await request('PUT', `/api/v1/bundles/${sha}`, {
    raw: bytes,
    headers: { 'content-type': 'application/gzip' },
  });
  expect(put.status).toBe(201);
  return sha;
}

async function submit(request: TestServer['request'], bundle: string): Promise<string> {
  const created = await request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow, bundle } });
  expect(created.status).toBe(201);
  return (created.body as { run: { id: string } }).run.id;
}

async function cancel(request: TestServer['request'], runId: string): Promise<void> {
  expect((await request('POST', `/api/v1/runs/${runId}/cancel`)).status).toBe(202);
  await waitForRunStatus(request, runId, 'cancelled');
}

describe('bundle retention (--bundle-retention)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('sweeps bundles unused for the retention, keeps those a run used since or an unfinished run names, and a re-run of a swept one says why', async () => {
    const clock = shiftedClock();
    const { request } = await startTestServer({
      clock,
      bundleRetentionMs: 60_000,
      bundleSweepIntervalMs: 20,
    });
    const present = async (sha: string) => (await request('HEAD', `/api/v1/bundles/${sha}`)).status === 200;
    const [live, finished, neverUsed, usedLater] = [
      await upload(request),
      await upload(request),
      await upload(request),
      await upload(request),
    ];
    await submit(request, live); // no runner: it stays queued, unfinished
    const finishedRun = await submit(request, finished);
    await cancel(request, finishedRun);

    clock.advance(40_000);
    // Submitting a run with a bundle is a use of it; this run finishes, so only that use keeps it.
    await cancel(request, await submit(request, usedLater));

    // 70 s after the uploads, 30 s after the last use of `usedLater`: the cut-off is 10 s after the uploads.
    clock.advance(30_000);
    for (let wait = 0; (await present(finished)) || (await present(neverUsed)); wait++) {
      if (wait > 250) throw new Error('no sweep removed the unused bundles within 5 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await present(live)).toBe(true);
    expect(await present(usedLater)).toBe(true);

    const rerun = await request('POST', `/api/v1/runs/${finishedRun}/rerun`);
    expect(rerun).toMatchObject({
      status: 404,
      body: {
        code: 'VK_BUNDLE_NOT_FOUND',
        message: `run ${finishedRun}'s workspace bundle ${finished} is no longer stored: it was removed after the server's bundle retention period (1m unused); submit the workflow again`,
      },
    });
    // Refused before anything was written: the run is still the cancelled first attempt.
    expect((await request('GET', `/api/v1/runs/${finishedRun}`)).body).toMatchObject({
      run: { status: 'cancelled', attempt: 1 },
    });
    const resubmitted = await request('POST', '/api/v1/runs', {
      body: { workflow: oneJobWorkflow, bundle: neverUsed },
    });
    expect(resubmitted).toMatchObject({
      status: 404,
      body: {
        code: 'VK_BUNDLE_NOT_FOUND',
        path: 'body.bundle',
        message: expect.stringContaining('after 1m'),
      },
    });
  });

  it('dates an upload from when its body has arrived, so one slower than the retention is kept', async () => {
    const clock = shiftedClock();
    const { server, request } = await startTestServer({
      clock,
      bundleRetentionMs: 60_000,
      bundleSweepIntervalMs: 20,
    });
    const present = async (sha: string) => (await request('HEAD', `/api/v1/bundles/${sha}`)).status === 200;
    const bytes = randomBytes(4096);
    const slow = createHash('sha256').update(bytes).digest('hex');
    const body = new PassThrough();
    const put = server.app.inject({
      method: 'PUT',
      url: `/api/v1/bundles/${slow}`,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/gzip' },
      payload: body,
    });
    body.write(bytes.subarray(0, 1024));
    clock.advance(20_000);
    const marker = await upload(request);
    // The rest of the body arrives 70 s after the upload began, past the 60 s retention.
    clock.advance(50_000);
    body.end(bytes.subarray(1024));
    expect((await put).statusCode).toBe(201);
    // Cut-off 40 s after the upload began: the first sweep to remove the marker (used at 20 s) came
    // after the upload's end, and it judged the upload too.
    clock.advance(30_000);
    for (let wait = 0; await present(marker); wait++) {
      if (wait > 250) throw new Error('no sweep removed the marker bundle within 5 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await present(slow)).toBe(true);
  });

  it("counts a job's fetches of its bundle as uses, writing one a while, yet keeps it the whole retention after the last", async () => {
    const clock = heldClock();
    const { server, request, token } = await startTestServer({
      clock,
      bundleRetentionMs: 60_000,
      bundleSweepIntervalMs: 20,
    });
    const present = async (sha: string) => (await request('HEAD', `/api/v1/bundles/${sha}`)).status === 200;
    const [fetched, unused] = [await upload(request), await upload(request)];
    const runId = await submit(request, fetched);
    const runner = await connectScriptedRunner(server.url, await credential(request, token), 1);
    const [lease] = await runner.leases(1);
    if (lease?.jobToken === undefined) throw new Error('a lease with a job token');
    const fetch = () => request('GET', `/api/v1/jobs/${lease.jobId}/workspace`, { token: lease.jobToken });

    const touches = vi.spyOn(FileBundleStore.prototype, 'touch');
    clock.advance(40_000);
    // As the legs of a matrix do: one write for all of them.
    const fetches = await Promise.all(Array.from({ length: 10 }, fetch));
    expect(fetches.map((fetched) => fetched.status)).toEqual(Array(10).fill(200));
    // Within the touch interval (a hundredth of the retention): this fetch is not written either.
    clock.advance(500);
    expect((await fetch()).status).toBe(200);
    expect(touches).toHaveBeenCalledTimes(1);
    runner.transport.send(jobCompleted(lease, { kind: 'succeeded' }, clock.now()));
    await waitForRunStatus(request, runId, 'succeeded');

    // 59.9 s after the last fetch, whose use was recorded 0.5 s before it; the run is finished.
    clock.advance(59_900);
    for (let wait = 0; await present(unused); wait++) {
      if (wait > 250) throw new Error('no sweep removed the unused bundle within 5 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await present(fetched)).toBe(true);
    runner.transport.close();
  });
});
