import { describe, expect, it } from 'vitest';
import { asJobId, type JobId, jobIdFor, type RunId } from '../../src/core/ids.js';
import type { LogLine } from '../../src/store/logs.js';
import { createRunWithJobs, type StoresFactory, useStores } from './fixture.js';

/** RunStore.updateJobs with log lines: the lines go in the same write, after the updates. */
export function jobUpdateLinesContract(make: StoresFactory): void {
  describe('job updates with log lines in one write', () => {
    const stores = useStores(make);

    async function runWithJobs(count: number): Promise<{ runId: RunId; ids: JobId[] }> {
      const runId = await createRunWithJobs(stores().runs, count, (run, i) => ({
        id: jobIdFor(run, i),
        runId: run,
        key: 'build',
        name: `build (${i})`,
        matrix: {},
        status: 'queued',
      }));
      return { runId, ids: Array.from({ length: count }, (_, i) => jobIdFor(runId, i)) };
    }

    const systemLine = (runId: RunId, jobId: JobId, text: string, jobAttempt?: number): LogLine => ({
      runId,
      jobId,
      stepIndex: -1,
      stream: 'system',
      at: 5,
      text,
      ...(jobAttempt === undefined ? {} : { jobAttempt }),
    });

    const texts = (lines: readonly LogLine[]) => lines.map(({ text }) => text);

    it('stores the lines with the updates, in order among appends made before and after', async () => {
      const { runId, ids } = await runWithJobs(70);
      const started = ids.map((id) => ({ id, patch: { status: 'running', startedAt: 5 } as const }));
      // 70 lines: more than one multi-row statement's worth, and not a power of two.
      const lines = ids.map((id, i) => systemLine(runId, id, `on runner ${i}`, i === 1 ? 2 : undefined));
      const [first] = ids;
      if (first === undefined) throw new Error('no jobs');
      const writes = [
        stores().logs.append([systemLine(runId, first, 'before')]),
        stores().runs.updateJobs(started, lines),
        stores().logs.append([systemLine(runId, first, 'after')]),
      ];
      await Promise.all(writes);
      const jobs = await stores().runs.listJobs(runId);
      expect(jobs.every((job) => job.status === 'running' && job.startedAt === 5)).toBe(true);
      const stored = await stores().logs.read(runId);
      expect(texts(stored)).toEqual(['before', ...texts(lines), 'after']);
      expect(stored[2]).toEqual(lines[1]);
    });

    it('fails a call whose update or line names no job, changing nothing of it; the calls made with it apply', async () => {
      const { runId, ids } = await runWithJobs(3);
      const [a, b, c] = ids;
      if (a === undefined || b === undefined || c === undefined) throw new Error('no jobs');
      const running = { status: 'running', startedAt: 5 } as const;
      const calls = [
        stores().runs.updateJobs([{ id: a, patch: running }], [systemLine(runId, a, 'a')]),
        stores().runs.updateJobs([{ id: b, patch: running }], [systemLine(runId, asJobId('nope.0'), 'x')]),
        stores().runs.updateJobs([{ id: c, patch: running }], [systemLine(runId, c, 'c')]),
        stores().runs.updateJobs([{ id: asJobId('nope.1'), patch: running }], [systemLine(runId, b, 'y')]),
      ];
      const [one, missing, three, missingUpdate] = await Promise.allSettled(calls);
      expect(one).toEqual({ status: 'fulfilled', value: undefined });
      expect(missing).toMatchObject({ status: 'rejected', reason: { code: 'VK_JOB_NOT_FOUND' } });
      expect(three).toEqual({ status: 'fulfilled', value: undefined });
      expect(missingUpdate).toMatchObject({ status: 'rejected', reason: { code: 'VK_JOB_NOT_FOUND' } });
      const jobs = await stores().runs.listJobs(runId);
      expect(jobs.map(({ status }) => status)).toEqual(['running', 'queued', 'running']);
      expect(texts(await stores().logs.read(runId))).toEqual(['a', 'c']);
    });
  });
}
