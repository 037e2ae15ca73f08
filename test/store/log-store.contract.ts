import { describe, expect, it } from 'vitest';
import { asRunId, type JobId, jobIdFor, type RunId } from '../../src/core/ids.js';
import type { LogLine } from '../../src/store/logs.js';
import type { Stores } from '../../src/store/store.js';
import { type StoresFactory, useStores } from './fixture.js';

/** A run with two jobs, as the engine would have stored them before any log line arrives. */
async function runWithJobs(stores: Stores): Promise<{ runId: RunId; a: JobId; b: JobId }> {
  const run = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
  const [a, b] = [jobIdFor(run.id, 0), jobIdFor(run.id, 1)];
  await stores.runs.addJobs(
    [a, b].map((id, i) => ({
      id,
      runId: run.id,
      key: `j${i}`,
      name: `j${i}`,
      matrix: {},
      status: 'running',
    })),
  );
  return { runId: run.id, a, b };
}

const line = (runId: RunId, jobId: JobId, text: string, overrides: Partial<LogLine> = {}): LogLine => ({
  runId,
  jobId,
  stepIndex: 0,
  stream: 'stdout',
  at: 1_700_000_000_000,
  text,
  ...overrides,
});

const texts = (lines: readonly LogLine[]) => lines.map((l) => l.text);

/** The LogStore lifecycle every implementation must honour (run with a fresh, empty store per test). */
export function logStoreContract(make: StoresFactory): void {
  describe('logs', () => {
    const stores = useStores(make);
    const logs = () => stores().logs;

    it('keeps the job and step attempt of each line, leaving out attempts of 1', async () => {
      const { runId, a } = await runWithJobs(stores());
      const lines = [
        line(runId, a, 'first try', { attempt: 1, jobAttempt: 1 }),
        line(runId, a, 'second try', { attempt: 2 }),
        line(runId, a, 'job again', { jobAttempt: 2 }),
        line(runId, a, 'job again, step again', { jobAttempt: 2, attempt: 3 }),
      ];
      await logs().append(lines);
      expect(await logs().read(runId, { jobId: a })).toEqual([
        line(runId, a, 'first try'),
        lines[1],
        lines[2],
        lines[3],
      ]);
      expect((await logs().read(runId, { tail: 1 }))[0]).toEqual(lines[3]);
    });

    it('reads back every field of every line in append order', async () => {
      const { runId, a } = await runWithJobs(stores());
      const lines = [
        line(runId, a, 'set up', { stepIndex: -1, stream: 'system', at: 1 }),
        line(runId, a, 'hello', { stepIndex: 0, stream: 'stdout', at: 2 }),
        line(runId, a, 'warning: ünïcødé ✓ 🚀', { stepIndex: 1, stream: 'stderr', at: 3 }),
        line(runId, a, '', { stepIndex: 1, at: 3 }),
        // What array literals and SQL quoting must carry through unchanged.
        line(runId, a, 'NULL', { stepIndex: 1, at: 4 }),
        line(runId, a, `a "quoted" \\back\\slash {b,c} 'single' \t tab`, { stepIndex: 1, at: 4 }),
      ];
      await logs().append(lines);
      expect(await logs().read(runId)).toEqual(lines);
    });

    it('keeps append order across batches and interleaved jobs', async () => {
      const { runId, a, b } = await runWithJobs(stores());
      await logs().append([line(runId, a, 'a1'), line(runId, b, 'b1')]);
      await logs().append([line(runId, b, 'b2')]);
      await logs().append([line(runId, a, 'a2'), line(runId, b, 'b3')]);
      expect(texts(await logs().read(runId))).toEqual(['a1', 'b1', 'b2', 'a2', 'b3']);
      expect(texts(await logs().read(runId, { jobId: b }))).toEqual(['b1', 'b2', 'b3']);
      expect(texts(await logs().read(runId, { jobId: a }))).toEqual(['a1', 'a2']);
    });

    it('tails the last lines of the selection, still in append order', async () => {
      const { runId, a, b } = await runWithJobs(stores());
      await logs().append(
        Array.from({ length: 10 }, (_, i) =>
          line(runId, i % 2 === 0 ? a : b, `${i % 2 === 0 ? 'a' : 'b'}${i}`),
        ),
      );
      expect(texts(await logs().read(runId, { tail: 3 }))).toEqual(['b7', 'a8', 'b9']);
      expect(texts(await logs().read(runId, { jobId: a, tail: 2 }))).toEqual(['a6', 'a8']);
      expect(texts(await logs().read(runId, { jobId: b, tail: 100 }))).toEqual([
        'b1',
        'b3',
        'b5',
        'b7',
        'b9',
      ]);
      expect(await logs().read(runId, { tail: 0 })).toEqual([]);
    });

    it("reads only the run's own lines, and nothing for an unknown run", async () => {
      const first = await runWithJobs(stores());
      const second = await runWithJobs(stores());
      await logs().append([line(first.runId, first.a, 'first'), line(second.runId, second.a, 'second')]);
      expect(texts(await logs().read(first.runId))).toEqual(['first']);
      expect(texts(await logs().read(first.runId, { jobId: second.a }))).toEqual([]);
      expect(await logs().read(asRunId('987654321'))).toEqual([]);
      expect(await logs().read(asRunId('no-such-run'))).toEqual([]);
    });

    it('appends a log batch all or nothing: a line of an unknown job rejects the whole batch', async () => {
      const { runId, a } = await runWithJobs(stores());
      const unknown = jobIdFor(runId, 9);
      await expect(logs().append([line(runId, a, 'x'), line(runId, unknown, 'x')])).rejects.toMatchObject({
        code: 'VK_JOB_NOT_FOUND',
        message: `no job with id ${unknown}`,
      });
      expect(await logs().read(runId)).toEqual([]);
    });

    it('accepts an empty batch', async () => {
      const { runId } = await runWithJobs(stores());
      await logs().append([]);
      expect(await logs().read(runId)).toEqual([]);
    });

    it('stores a large batch', async () => {
      const { runId, a } = await runWithJobs(stores());
      const batch = Array.from({ length: 5000 }, (_, i) => line(runId, a, `line ${i}`, { at: i }));
      await logs().append(batch);
      const read = await logs().read(runId, { jobId: a });
      expect(read).toHaveLength(5000);
      expect(read[4999]).toEqual(batch[4999]);
      expect(texts(await logs().read(runId, { tail: 2 }))).toEqual(['line 4998', 'line 4999']);
    });

    it('follows a log: the lines after a position, in order, in pages, for the run or one job', async () => {
      const { runId, a, b } = await runWithJobs(stores());
      const other = await runWithJobs(stores());
      expect(await logs().readAfter(runId, 0)).toEqual({ lines: [], position: 0 });
      await logs().append([
        line(runId, a, 'a1'),
        line(runId, b, 'b1', { jobAttempt: 2 }),
        line(runId, a, 'a2'),
      ]);
      await logs().append([line(other.runId, other.a, 'elsewhere')]);
      const first = await logs().readAfter(runId, 0, { limit: 2 });
      expect(first.lines).toEqual([line(runId, a, 'a1'), line(runId, b, 'b1', { jobAttempt: 2 })]);
      const second = await logs().readAfter(runId, first.position, { limit: 2 });
      expect(texts(second.lines)).toEqual(['a2']);
      expect(await logs().readAfter(runId, second.position)).toEqual({
        lines: [],
        position: second.position,
      });
      await logs().append([line(runId, b, 'b2'), line(runId, a, 'a3')]);
      expect(texts((await logs().readAfter(runId, second.position)).lines)).toEqual(['b2', 'a3']);
      const jobA = await logs().readAfter(runId, 0, { jobId: a });
      expect(texts(jobA.lines)).toEqual(['a1', 'a2', 'a3']);
      expect(texts((await logs().readAfter(runId, first.position, { jobId: a })).lines)).toEqual([
        'a2',
        'a3',
      ]);
      expect(await logs().readAfter(asRunId('no-such-run'), 7)).toEqual({ lines: [], position: 7 });
    });

    it("tells the end of a run's log: reading after it gives exactly the lines appended after the call", async () => {
      const { runId, a, b } = await runWithJobs(stores());
      const other = await runWithJobs(stores());
      const empty = await logs().endPosition(runId);
      await logs().append([line(runId, a, 'a1'), line(runId, b, 'b1')]);
      expect(texts((await logs().readAfter(runId, empty)).lines)).toEqual(['a1', 'b1']);
      const end = await logs().endPosition(runId);
      expect(await logs().readAfter(runId, end)).toEqual({ lines: [], position: end });
      // Another run's lines, appended later, move neither the end nor what follows it.
      await logs().append([line(other.runId, other.a, 'elsewhere')]);
      expect(await logs().endPosition(runId)).toBe(end);
      await logs().append([line(runId, a, 'a2', { jobAttempt: 2 })]);
      expect((await logs().readAfter(runId, end)).lines).toEqual([line(runId, a, 'a2', { jobAttempt: 2 })]);
      expect(texts((await logs().readAfter(runId, end, { jobId: b })).lines)).toEqual([]);
    });

    it("tells how many of a job attempt's runner lines it holds, and reads leave their index out", async () => {
      const { runId, a, b } = await runWithJobs(stores());
      expect(await logs().lineEnd(runId, a, 1)).toBe(0);
      const runner = (text: string, lineIndex: number, jobAttempt?: number) =>
        line(runId, a, text, { lineIndex, ...(jobAttempt === undefined ? {} : { jobAttempt }) });
      // The control plane's own lines (no index) around the runner's count for nothing.
      await logs().append([line(runId, a, 'leased'), runner('r0', 0), runner('r1', 1)]);
      await logs().append([runner('r2', 2), line(runId, a, 'note', { stream: 'system', stepIndex: -1 })]);
      expect(await logs().lineEnd(runId, a, 1)).toBe(3);
      // Per job attempt and per job; a gap (lines the runner forgot) counts up to the last index.
      await logs().append([runner('again 0', 0, 2), runner('again 5', 5, 2)]);
      expect(await logs().lineEnd(runId, a, 2)).toBe(6);
      expect(await logs().lineEnd(runId, a, 1)).toBe(3);
      expect(await logs().lineEnd(runId, b, 1)).toBe(0);
      expect(await logs().lineEnd(asRunId('987654321'), a, 1)).toBe(0);
      expect(await logs().lineEnd(asRunId('no-such-run'), a, 1)).toBe(0);
      const read = await logs().read(runId, { jobId: a });
      expect(read[1]).toEqual(line(runId, a, 'r0'));
      expect(read.some((each) => 'lineIndex' in each)).toBe(false);
    });

    it('orders lineEnd with the appends made around it, also lines written with job updates', async () => {
      const { runId, a } = await runWithJobs(stores());
      const before = logs().append([line(runId, a, 'r0', { lineIndex: 0 })]);
      const end = logs().lineEnd(runId, a, 1);
      const after = logs().append([line(runId, a, 'r1', { lineIndex: 1 })]);
      await Promise.all([before, after]);
      expect(await end).toBe(1);
      await stores().runs.updateJobs(
        [{ id: a, patch: { status: 'running', startedAt: 2 } }],
        [line(runId, a, 'r2', { lineIndex: 2 })],
      );
      expect(await logs().lineEnd(runId, a, 1)).toBe(3);
    });

    it('orders endPosition with the appends made around it, none of them awaited', async () => {
      const { runId, a } = await runWithJobs(stores());
      const before = logs().append([line(runId, a, 'before')]);
      const end = logs().endPosition(runId);
      const after = logs().append([line(runId, a, 'after 1'), line(runId, a, 'after 2')]);
      await Promise.all([before, after]);
      expect(texts((await logs().readAfter(runId, await end)).lines)).toEqual(['after 1', 'after 2']);
      const unknown = asRunId('987654321');
      expect((await logs().readAfter(unknown, await logs().endPosition(unknown))).lines).toEqual([]);
      expect(
        (await logs().readAfter(asRunId('no-such-run'), await logs().endPosition(asRunId('no-such-run'))))
          .lines,
      ).toEqual([]);
    });
  });
}
