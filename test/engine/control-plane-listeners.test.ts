import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { asJobId, runIdOfJob } from '../../src/core/ids.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { RunEvent, RunEventListenerOptions } from '../../src/engine/events.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { jobsWorkflow, runRequest } from './plane-fixtures.js';

/** Three legs on a label no runner has: each is queued, with a job.queued event, in the same turn. */
const matrixOfThree = jobsWorkflow(
  '  a:\n    runs-on: x\n    strategy: { matrix: { n: [1, 2, 3] } }\n    steps: [{ run: "true" }]\n',
);

describe('ControlPlane listeners and the store writes of a turn', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * A plane whose listener reads each queued job's status from the store as it is told; `calls`
   * lists the size of every RunStore.updateJobs call.
   */
  async function queueThree(options?: RunEventListenerOptions) {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-listeners-'));
    dirs.push(dir);
    const stores = openSqliteStores(join(dir, 'state.db'));
    const calls: number[] = [];
    const updateJobs = stores.runs.updateJobs.bind(stores.runs);
    stores.runs.updateJobs = (updates, lines) => {
      calls.push(updates.length);
      return updateJobs(updates, lines);
    };
    const plane = new ControlPlane(stores);
    const seen: Promise<string | undefined>[] = [];
    plane.onEvent((event: RunEvent) => {
      if (event.type !== 'job.queued') return;
      const jobId = asJobId(event.jobId);
      const runId = runIdOfJob(jobId);
      if (runId === undefined) throw new Error(`no run in job id ${jobId}`);
      const jobs = stores.runs.listJobs(runId);
      seen.push(jobs.then((all) => all.find((job) => job.id === jobId)?.status));
    }, options);
    const handle = await plane.startRun(matrixOfThree, runRequest);
    const statuses = await Promise.all(seen);
    handle.cancel(false);
    await handle.done;
    await stores.close();
    return { calls, statuses };
  }

  it('hands the held updates to the store before a listener that may read it is told of them', async () => {
    const { calls, statuses } = await queueThree();
    expect(statuses).toEqual(['queued', 'queued', 'queued']);
    expect(calls.slice(0, 3)).toEqual([1, 1, 1]);
  });

  it('keeps the updates of a turn one write when no listener reads the store on events', async () => {
    const { calls, statuses } = await queueThree({ readsStore: false });
    // Told before its update went to the store: the listener read the job as added.
    expect(statuses).toEqual(['pending', 'pending', 'pending']);
    expect(calls[0]).toBe(3);
  });
});
