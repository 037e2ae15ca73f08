import { describe, expect, it } from 'vitest';
import { asRunId, type RunId } from '../../src/core/ids.js';
import type { RunStore } from '../../src/store/runs.js';
import { unfinishedRunStatuses } from '../../src/store/runs.js';

/** Keyset paging of RunStore.listRuns (`before`); part of the run-store contract. */
export function runPagesContract(runs: () => RunStore): void {
  // Every run created in the same millisecond: the order, and the pages, must not depend on createdAt.
  const createTied = async (count: number): Promise<RunId[]> => {
    const ids: RunId[] = [];
    for (let i = 0; i < count; i++)
      ids.push((await runs().createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 5_000 })).id);
    return ids.reverse();
  };

  describe('pages (listRuns before)', () => {
    it('pages through runs created in the same millisecond, newest first, with no run twice or missing', async () => {
      const newestFirst = await createTied(10);
      const pages: RunId[][] = [];
      let before: RunId | undefined;
      // Bounded, so that a store ignoring `before` fails the test instead of paging forever.
      for (let request = 0; request < 10; request++) {
        const page = await runs().listRuns({ limit: 4, ...(before === undefined ? {} : { before }) });
        if (page.length === 0) break;
        pages.push(page.map((run) => run.id));
        before = page.at(-1)?.id;
      }
      expect(pages.map((page) => page.length)).toEqual([4, 4, 2]);
      expect(pages.flat()).toEqual(newestFirst);
    });

    it('lists only runs strictly older than `before`, whether or not that run exists', async () => {
      const newestFirst = await createTied(5);
      const [newest, second, third] = newestFirst;
      if (newest === undefined || second === undefined || third === undefined) throw new Error('5 runs');
      expect((await runs().listRuns({ before: second })).map((run) => run.id)).toEqual(newestFirst.slice(2));
      expect((await runs().listRuns({ before: third, limit: 1 })).map((run) => run.id)).toEqual(
        newestFirst.slice(3, 4),
      );
      const beyond = asRunId(String(BigInt(newest) + 1000n));
      expect((await runs().listRuns({ before: beyond })).map((run) => run.id)).toEqual(newestFirst);
      const oldest = newestFirst.at(-1);
      if (oldest === undefined) throw new Error('5 runs');
      expect(await runs().listRuns({ before: oldest })).toEqual([]);
    });

    it('pages through unfinished runs only, when asked for them', async () => {
      const newestFirst = await createTied(6);
      // Finish every other run: the unfinished ones are newestFirst[1], [3] and [5].
      for (const id of newestFirst.filter((_, index) => index % 2 === 0))
        await runs().updateRun(id, { status: 'succeeded', finishedAt: 6_000 });
      const first = await runs().listRuns({ statuses: unfinishedRunStatuses, limit: 2 });
      expect(first.map((run) => run.id)).toEqual([newestFirst[1], newestFirst[3]]);
      const last = first.at(-1)?.id;
      if (last === undefined) throw new Error('a page of 2');
      const second = await runs().listRuns({ statuses: unfinishedRunStatuses, limit: 2, before: last });
      expect(second.map((run) => run.id)).toEqual([newestFirst[5]]);
    });

    it('pages through the runs in the statuses asked for, with the same filter on every page', async () => {
      const newestFirst = await createTied(6);
      const statusOf = ['failed', 'succeeded', 'cancelled', 'failed', 'running', 'failed'] as const;
      for (const [index, id] of newestFirst.entries()) {
        const status = statusOf[index];
        if (status !== undefined) await runs().updateRun(id, { status, finishedAt: 6_000 });
      }
      const ids = (index: number[]) => index.map((i) => newestFirst[i]);
      const first = await runs().listRuns({ statuses: ['failed'], limit: 2 });
      expect(first.map((run) => run.id)).toEqual(ids([0, 3]));
      const last = first.at(-1)?.id;
      if (last === undefined) throw new Error('a page of 2');
      const second = await runs().listRuns({ statuses: ['failed'], limit: 2, before: last });
      expect(second.map((run) => run.id)).toEqual(ids([5]));
      const ended = await runs().listRuns({ statuses: ['cancelled', 'running', 'succeeded'] });
      expect(ended.map((run) => run.id)).toEqual(ids([1, 2, 4]));
      expect((await runs().listRuns({ statuses: ['running'] })).map((run) => run.id)).toEqual(ids([4]));
      expect(await runs().listRuns({ statuses: ['queued'] })).toEqual([]);
      expect(await runs().listRuns({ statuses: [] })).toHaveLength(6);
    });

    it("lists one workflow's runs: by its name, its path, or the file name its path ends with", async () => {
      const create = (workflowName: string, workflowPath: string) =>
        runs().createRun({ workflowName, workflowPath, createdAt: 5_000 });
      const ci = await create('.github/workflows/ci.yml', '.github/workflows/ci.yml');
      const deploy = await create('Deploy', 'deploy/.github/workflows/release.yml');
      const other = await create('ci', 'pipelines/xci.yml');
      const listed = async (workflow: string) =>
        (await runs().listRuns({ workflow })).map((run) => run.id).sort();
      expect(await listed('.github/workflows/ci.yml')).toEqual([ci.id]);
      expect(await listed('ci.yml')).toEqual([ci.id]);
      expect(await listed('workflows/ci.yml')).toEqual([ci.id]);
      expect(await listed('Deploy')).toEqual([deploy.id]);
      expect(await listed('release.yml')).toEqual([deploy.id]);
      expect(await listed('ci')).toEqual([other.id]);
      // Exact, never a pattern or a part of a name.
      for (const workflow of ['i.yml', 'deploy', '%', '_i.yml', 'ci.ym', '/ci.yml', ''])
        expect(await listed(workflow)).toEqual([]);
      await runs().updateRun(deploy.id, { status: 'failed', finishedAt: 6_000 });
      const unfinishedCi = await runs().listRuns({ workflow: 'ci.yml', statuses: unfinishedRunStatuses });
      expect(unfinishedCi.map((run) => run.id)).toEqual([ci.id]);
      expect(await runs().listRuns({ workflow: 'Deploy', statuses: unfinishedRunStatuses })).toEqual([]);
      expect(
        (await runs().listRuns({ workflow: 'Deploy', statuses: ['failed'] })).map((run) => run.id),
      ).toEqual([deploy.id]);
    });

    it('lists nothing before a string that is not a run id of this store', async () => {
      await createTied(2);
      for (const before of ['abc', '07', '-1', '1.5', '99999999999999999999999'])
        expect(await runs().listRuns({ before: asRunId(before) })).toEqual([]);
    });
  });
}
