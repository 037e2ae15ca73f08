import { describe, expect, it } from 'vitest';
import { asRunId, jobIdFor } from '../../src/core/ids.js';
import { completionKey, completionKeyOf, jobsRunBy, maxRunsRead } from '../../src/engine/attempt-runners.js';
import type { JobAttemptRecord, JobRecord, RunStore } from '../../src/store/runs.js';

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
  it("keys the runner's ended attempts by token: the latest with its outputs, earlier ones without", async () => {
    const jobId = jobIdFor(asRunId('1'), 1);
    const r1 = { id: 'r1', name: 'one' };
    const job = {
      id: jobId,
      status: 'succeeded',
      outputs: { a: '1' },
      attempt: 4,
      runner: r1,
      fencingToken: 40,
    };
    const attempts: JobAttemptRecord[] = [
      { jobId, attempt: 1, status: 'failed', finishedAt: 1, reason: 'exit 1', runner: r1, fencingToken: 10 },
      {
        jobId,
        attempt: 2,
        status: 'failed',
        finishedAt: 2,
        runner: { id: 'r2', name: 'two' },
        fencingToken: 20,
      },
      {
        jobId,
        attempt: 3,
        status: 'cancelled',
        finishedAt: 3,
        reason: 'the run was cancelled',
        runner: r1,
        fencingToken: 30,
      },
    ];
    const runs = {
      listJobs: async () => [job as unknown as JobRecord],
      listJobAttempts: async () => attempts,
    } as unknown as RunStore;
    const ends = (await jobsRunBy(runs, 'r1', [jobId])).get(jobId)?.ends;
    expect([...(ends?.keys() ?? [])]).toEqual([10, 30, 40]);
    const sent = (
      fencingToken: number,
      outcome: Parameters<typeof completionKeyOf>[0]['outcome'],
      outputs = {},
    ) => ({
      fencingToken,
      outcome,
      outputs,
    });
    const matches = (message: ReturnType<typeof sent>) => {
      const end = ends?.get(message.fencingToken);
      return end !== undefined && end.key === completionKeyOf(message, end);
    };
    // The stored outputs of an earlier attempt are none: a copy's are not compared.
    expect(matches(sent(10, { kind: 'failed', reason: 'exit 1', exitCode: 1 }, { a: '2' }))).toBe(true);
    expect(matches(sent(10, { kind: 'failed', reason: 'exit 2', exitCode: 2 }))).toBe(false);
    expect(matches(sent(10, { kind: 'succeeded' }))).toBe(false);
    expect(matches(sent(20, { kind: 'failed', reason: 'exit 1' }))).toBe(false);
    // A cancelled end is stored with the control plane's reason: the runner's is not compared.
    expect(matches(sent(30, { kind: 'cancelled', reason: 'the runner is stopping' }))).toBe(true);
    expect(matches(sent(40, { kind: 'succeeded' }, { a: '1' }))).toBe(true);
    expect(matches(sent(40, { kind: 'succeeded' }, { a: '2' }))).toBe(false);
    expect(completionKey(40, 'succeeded', undefined, {})).not.toBe(completionKey(40, 'succeeded', undefined));
  });
});
