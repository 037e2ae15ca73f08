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

    // The SQLite store binds a text once for all rows of a statement that have it (multi-row.ts):
    // rows that share it except one, inside and after the first 64-row statement, read back as given.
    it('reads back added jobs and lines whose texts are alike in all rows but one', async () => {
      const runId = await stores().runs.createRun({
        workflowName: 'ci',
        workflowPath: 'ci.yml',
        createdAt: 1,
      });
      const odd = (i: number) => i === 40 || i === 66;
      const jobs = Array.from({ length: 70 }, (_, i) => ({
        id: jobIdFor(runId.id, i),
        runId: runId.id,
        key: odd(i) ? 'other' : 'build',
        name: `build (${i})`,
        matrix: { leg: i },
        status: i === 69 ? ('pending' as const) : ('queued' as const),
      }));
      await stores().runs.addJobs(jobs);
      const stored = await stores().runs.listJobs(runId.id);
      expect(stored.map(({ id, key, name, matrix, status }) => ({ id, key, name, matrix, status }))).toEqual(
        jobs.map(({ id, key, name, matrix, status }) => ({ id, key, name, matrix, status })),
      );
      const lines = jobs.map(({ id }, i) => ({
        ...systemLine(runId.id, id, odd(i) ? 'elsewhere' : 'on runner r'),
        ...(i === 41 ? { stream: 'stdout' as const } : {}),
      }));
      await stores().runs.updateJobs([], lines);
      expect(await stores().logs.read(runId.id)).toEqual(lines);
    });
  });
}
