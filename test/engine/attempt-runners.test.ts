import { describe, expect, it } from 'vitest';
import { asRunId, jobIdFor } from '../../src/core/ids.js';
import { jobsRunBy, maxRunsRead } from '../../src/engine/attempt-runners.js';
import type { JobRecord, RunStore } from '../../src/store/runs.js';

/** A RunStore with one job per run, each run by runner `r1`, that counts its reads. */
function storeOfRuns(): { runs: RunStore; reads: string[] } {
  const reads: string[] = [];
  const runs = {
    listJobs: async (runId: string) => {
      reads.push(runId);
      const job = { id: jobIdFor(asRunId(runId), 1), runner: { id: 'r1', name: 'one' }, attempt: 1 };
      return [job as unknown as JobRecord];
    },
    listJobAttempts: async () => [],
  } as unknown as RunStore;
  return { runs, reads };
}

describe('jobsRunBy', () => {
  it('reads one run per run named, and no more than maxRunsRead of them for one resume', async () => {
    const { runs, reads } = storeOfRuns();
    const ids = Array.from({ length: maxRunsRead + 36 }, (_, i) => jobIdFor(asRunId(String(i + 1)), 1));
    const ran = await jobsRunBy(runs, 'r1', [...ids, ids[0] ?? '']);
    expect(reads).toHaveLength(maxRunsRead);
    expect([...ran.keys()]).toEqual(ids.slice(0, maxRunsRead));
    expect((await jobsRunBy(runs, 'r2', ids.slice(0, 2))).size).toBe(0);
  });
});
