import { describe, expect, it } from 'vitest';
import { CancelRequestPoller } from '../../src/engine/cancel-request-poller.js';
import { oneJobWorkflow, planesOnSqlite, runRequest } from './plane-fixtures.js';

describe('CancelRequestPoller', () => {
  const openPlane = planesOnSqlite('cancel-requests');

  /** A one-job run driven by a plane, and a poller that finds its cancel requests (polled by hand). */
  async function runWithPoller() {
    const { plane, stores } = openPlane();
    const handle = await plane.startRun(oneJobWorkflow(), runRequest);
    const poller = new CancelRequestPoller(
      stores.recovery,
      () => new Map([[handle.id, handle]]),
      60_000,
      () => {},
    );
    return { stores, handle, poller };
  }

  it('cancels a run asked to cancel from another process, saying so in its jobs’ reason', async () => {
    const { stores, handle, poller } = await runWithPoller();
    expect(await poller.poll()).toEqual([]);
    expect(await stores.recovery.requestCancel(handle.id, Date.now())).toBe(true);
    expect(await poller.poll()).toEqual([handle.id]);
    expect(await handle.done).toBe('cancelled');
    expect(await stores.runs.listJobs(handle.id)).toMatchObject([
      { status: 'cancelled', reason: 'cancelled by a cancel request (valkyrie cancel or the API)' },
    ]);
    await poller.stop();
  });

  it('gives the jobs the reason the request names', async () => {
    const { stores, handle, poller } = await runWithPoller();
    expect(await stores.recovery.requestCancel(handle.id, Date.now(), 'valkyrie cancel by ada on ci-3')).toBe(
      true,
    );
    expect(await poller.poll()).toEqual([handle.id]);
    expect(await handle.done).toBe('cancelled');
    expect(await stores.runs.listJobs(handle.id)).toMatchObject([
      { status: 'cancelled', reason: 'cancelled by a cancel request (valkyrie cancel by ada on ci-3)' },
    ]);
    await poller.stop();
  });
});
