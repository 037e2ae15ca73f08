import { describe, expect, it } from 'vitest';
import { asRunId } from '../../src/core/ids.js';
import type { RunOwner, RunOwnership, StoredRunRequest } from '../../src/store/recovery.js';
import { processRunOwner } from '../../src/store/run-fence.js';
import type { RunRecord } from '../../src/store/runs.js';
import { type StoresFactory, useStores } from './fixture.js';

const request: StoredRunRequest = {
  workspace: '/work/repo',
  actor: 'ada',
  vars: { REGION: 'eu' },
  envOverrides: { MODE: 'fast' },
  extraLabels: ['gpu'],
  secretNames: ['TOKEN'],
  concurrency: 3,
  priority: 'high',
  notBefore: 1_700_000_050_000,
  event: 'push',
  git: {
    sha: 'a'.repeat(40),
    ref: 'refs/heads/main',
    repository: 'acme/widgets',
    serverUrl: 'https://github.com',
    commit: {
      message: 'Ship it: ü\n\nwith a body',
      parent: 'b'.repeat(40),
      author: { name: 'Ada', email: 'ada@example.com', date: '2026-11-30T15:04:05+01:00' },
      committer: { name: 'Ada', email: 'ada@example.com', date: '2026-11-30T15:04:05+01:00' },
    },
  },
};
const source = 'name: ci\non: push\njobs:\n  a:\n    runs-on: local\n    steps:\n      - run: echo "ü"\n';
// The owner the stores write runs for (this process: store/run-fence.ts), so that they may finish its runs.
const first: RunOwnership = { owner: processRunOwner(), heartbeatAt: 1_700_000_000_000 };
const second: RunOwnership = { owner: { host: 'box-2', pid: 77 }, heartbeatAt: 1_700_000_020_000 };

/** The RunRecoveryStore lifecycle: save once, heartbeat while running, claim with compare-and-set. */
export function runRecoveryContract(make: StoresFactory): void {
  describe('run recovery', () => {
    const stores = useStores(make);
    const createRun = () =>
      stores().runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1_700_000_000_000 });

    it('reads back the saved workflow text, request and owner exactly', async () => {
      const run = await createRun();
      expect(await stores().recovery.getResumable(run.id)).toBeUndefined();
      await stores().recovery.saveResumable(run.id, { source, request }, first);
      expect(await stores().recovery.getResumable(run.id)).toEqual({ source, request, ownership: first });
    });

    it('refuses to save for an unknown run, and finds nothing for one', async () => {
      await expect(
        stores().recovery.saveResumable(asRunId('999'), { source, request }, first),
      ).rejects.toMatchObject({ code: 'VK_RUN_NOT_FOUND' });
      expect(await stores().recovery.getResumable(asRunId('999'))).toBeUndefined();
      expect(await stores().recovery.getResumable(asRunId('nope'))).toBeUndefined();
    });

    it('moves the heartbeat only for the owner', async () => {
      const run = await createRun();
      await stores().recovery.saveResumable(run.id, { source, request }, first);
      expect(await stores().recovery.heartbeat(run.id, first.owner, 1_700_000_003_000)).toBe(true);
      expect(await stores().recovery.heartbeat(run.id, second.owner, 1_700_000_009_000)).toBe(false);
      const read = await stores().recovery.getResumable(run.id);
      expect(read?.ownership).toEqual({ owner: first.owner, heartbeatAt: 1_700_000_003_000 });
    });

    it('lists the ownership of runs that have one', async () => {
      const owned = await createRun();
      const unowned = await createRun();
      await stores().recovery.saveResumable(owned.id, { source, request }, first);
      const found = await stores().recovery.ownerships([owned.id, unowned.id, asRunId('x')]);
      expect([...found]).toEqual([[owned.id, first]]);
    });

    it("lists the distinct bundles that unfinished runs name, and no finished run's", async () => {
      const [queued, running, twin, finished, bare, unsaved] = [
        await createRun(),
        await createRun(),
        await createRun(),
        await createRun(),
        await createRun(),
        await createRun(),
      ];
      const save = (run: RunRecord, bundle?: string) =>
        stores().recovery.saveResumable(
          run.id,
          { source, request: bundle === undefined ? request : { ...request, bundle } },
          first,
        );
      expect(await stores().recovery.unfinishedRunBundles()).toEqual(new Set());
      await save(queued, 'a'.repeat(64));
      await save(running, 'b'.repeat(64));
      await save(twin, 'b'.repeat(64));
      await save(finished, 'c'.repeat(64));
      await save(bare);
      expect(unsaved.status).toBe('queued');
      await stores().runs.updateRun(running.id, { status: 'running', startedAt: 1_700_000_001_000 });
      await stores().runs.updateRun(finished.id, { status: 'succeeded', finishedAt: 1_700_000_010_000 });
      expect(await stores().recovery.unfinishedRunBundles()).toEqual(
        new Set(['a'.repeat(64), 'b'.repeat(64)]),
      );
    });

    it('claims only when the ownership is still the one read, so a second claim loses', async () => {
      const run = await createRun();
      await stores().recovery.saveResumable(run.id, { source, request }, first);
      expect(await stores().recovery.claim(run.id, first, second)).toEqual({ kind: 'claimed' });
      expect(await stores().recovery.claim(run.id, first, second)).toEqual({ kind: 'lost' });
      expect((await stores().recovery.getResumable(run.id))?.ownership).toEqual(second);
      // The old owner's heartbeat no longer lands: it learns that it lost the run.
      expect(await stores().recovery.heartbeat(run.id, first.owner, 1_700_000_030_000)).toBe(false);
    });

    it('lets exactly one of two concurrent claims from two handles win', async () => {
      const run = await createRun();
      await stores().recovery.saveResumable(run.id, { source, request }, first);
      const other = await stores.another();
      const third: RunOwnership = { owner: { host: 'box-3', pid: 5 }, heartbeatAt: 1_700_000_020_001 };
      const outcomes = await Promise.all([
        stores().recovery.claim(run.id, first, second),
        other.recovery.claim(run.id, first, third),
      ]);
      expect(outcomes.map((outcome) => outcome.kind).sort()).toEqual(['claimed', 'lost']);
      const winner = outcomes[0]?.kind === 'claimed' ? second : third;
      expect((await stores().recovery.getResumable(run.id))?.ownership).toEqual(winner);
    });

    it('does not claim a finished run', async () => {
      const run = await createRun();
      await stores().recovery.saveResumable(run.id, { source, request }, first);
      await stores().runs.updateRun(run.id, { status: 'succeeded', finishedAt: 1_700_000_010_000 });
      expect(await stores().recovery.claim(run.id, first, second)).toEqual({ kind: 'lost' });
    });

    it('reopens a failed run as running under a new owner, once, started again then (as GitHub resets run_started_at)', async () => {
      const run = await createRun();
      await stores().recovery.saveResumable(run.id, { source, request }, first);
      await stores().runs.updateRun(run.id, { status: 'running', startedAt: 1_700_000_001_000 });
      await stores().runs.updateRun(run.id, { status: 'failed', finishedAt: 1_700_000_010_000 });
      const other = await stores.another();
      const third: RunOwnership = { owner: { host: 'box-3', pid: 5 }, heartbeatAt: 1_700_000_020_001 };
      const outcomes = await Promise.all([
        stores().recovery.reopen(run.id, 'failed', second),
        other.recovery.reopen(run.id, 'failed', third),
      ]);
      expect(outcomes.map((outcome) => outcome.kind).sort()).toEqual(['claimed', 'lost']);
      const reopened = await stores().runs.getRun(run.id);
      const winner = outcomes[0]?.kind === 'claimed' ? second : third;
      expect(reopened).toMatchObject({ status: 'running', startedAt: winner.heartbeatAt, attempt: 2 });
      expect(reopened?.finishedAt).toBeUndefined();
      expect(await stores().recovery.getResumable(run.id)).toEqual({ source, request, ownership: winner });
    });

    it('does not reopen a run whose status is not the expected one, nor an unknown run', async () => {
      const run = await createRun();
      await stores().recovery.saveResumable(run.id, { source, request }, first);
      expect(await stores().recovery.reopen(run.id, 'failed', second)).toEqual({ kind: 'lost' });
      await stores().runs.updateRun(run.id, { status: 'cancelled', finishedAt: 1_700_000_010_000 });
      expect(await stores().recovery.reopen(run.id, 'failed', second)).toEqual({ kind: 'lost' });
      expect(await stores().recovery.reopen(asRunId('999'), 'failed', second)).toEqual({ kind: 'lost' });
      expect((await stores().runs.getRun(run.id))?.status).toBe('cancelled');
      expect(await stores().recovery.reopen(run.id, 'cancelled', second)).toEqual({ kind: 'claimed' });
    });

    it('reopens a succeeded run, for a re-run of all its jobs', async () => {
      const run = await createRun();
      await stores().recovery.saveResumable(run.id, { source, request }, first);
      await stores().runs.updateRun(run.id, { status: 'succeeded', finishedAt: 1_700_000_010_000 });
      expect(await stores().recovery.reopen(run.id, 'failed', second)).toEqual({ kind: 'lost' });
      expect(await stores().recovery.reopen(run.id, 'succeeded', second)).toEqual({ kind: 'claimed' });
      expect(await stores().runs.getRun(run.id)).toMatchObject({ status: 'running', attempt: 2 });
    });

    it('counts takeovers in a row after a give-up while no job finishes between them, and a re-run starts again', async () => {
      const run = await createRun();
      await stores().recovery.saveResumable(run.id, { source, request }, first);
      const count = (finishedJobs: number) => stores().recovery.countTakeover(run.id, finishedJobs);
      const giveUp = () => stores().recovery.markGivenUp(run.id, first.owner, 1_700_000_001_000);
      const counts = async (finishedJobs: number, times: number) => {
        const seen: number[] = [];
        for (let index = 0; index < times; index++) {
          expect(await giveUp()).toBe(true);
          seen.push(await count(finishedJobs));
        }
        return seen;
      };
      expect(await counts(0, 3)).toEqual([1, 2, 3]);
      // A job finished since the last takeover: the run moved on, and the count starts again.
      expect(await counts(1, 2)).toEqual([1, 2]);
      // Fewer than before (a re-run made jobs run again) is no repeat either.
      expect(await counts(0, 1)).toEqual([1]);
      expect(await giveUp()).toBe(true);
      expect(await stores.another().then((other) => other.recovery.countTakeover(run.id, 0))).toBe(2);
      await stores().runs.updateRun(run.id, { status: 'failed', finishedAt: 1_700_000_010_000 });
      expect(await stores().recovery.reopen(run.id, 'failed', second)).toEqual({ kind: 'claimed' });
      expect(await count(0)).toBe(0);
      expect(await stores().recovery.countTakeover(asRunId('999'), 0)).toBe(0);
      expect(await stores().recovery.countTakeover(asRunId('nope'), 0)).toBe(0);
    });

    it('counts no takeover without a give-up, which its owner alone marks until the run is claimed', async () => {
      const run = await createRun();
      await stores().recovery.saveResumable(run.id, { source, request }, first);
      const count = (finishedJobs: number) => stores().recovery.countTakeover(run.id, finishedJobs);
      const giveUp = (owner: RunOwner, stoppedAt: number) =>
        stores().recovery.markGivenUp(run.id, owner, stoppedAt);
      // Takeovers after crashes and restarts: nothing to count.
      expect([await count(0), await count(0), await count(0), await count(0)]).toEqual([0, 0, 0, 0]);
      expect(await giveUp(first.owner, 1_700_000_001_000)).toBe(true);
      expect(await giveUp(first.owner, 1_700_000_001_000)).toBe(true);
      expect(await count(0)).toBe(1);
      // The mark was taken: a crash's takeover leaves the count; one after a job finished starts it again.
      expect(await count(0)).toBe(1);
      expect(await giveUp(first.owner, 1_700_000_001_000)).toBe(true);
      expect(await count(0)).toBe(2);
      expect(await count(1)).toBe(0);
      expect(await giveUp(first.owner, 1_700_000_001_000)).toBe(true);
      expect(await count(1)).toBe(1);
      // Not its owner, or a heartbeat after the give-up: not this owner's give-up, nothing marked.
      expect(await giveUp(second.owner, 1_700_000_001_000)).toBe(false);
      expect(await giveUp(first.owner, first.heartbeatAt - 1)).toBe(false);
      // Claimed since by the same process (a later heartbeat): a late mark is not the new owner's.
      const again: RunOwnership = { owner: first.owner, heartbeatAt: 1_700_000_030_000 };
      expect(await stores().recovery.claim(run.id, first, again)).toEqual({ kind: 'claimed' });
      expect(await giveUp(first.owner, 1_700_000_001_000)).toBe(false);
      expect(await count(1)).toBe(1);
      // A re-run clears a mark, and a finished run takes none.
      expect(await giveUp(first.owner, again.heartbeatAt)).toBe(true);
      await stores().runs.updateRun(run.id, { status: 'failed', finishedAt: 1_700_000_040_000 });
      expect(await giveUp(first.owner, again.heartbeatAt)).toBe(false);
      expect(await stores().recovery.reopen(run.id, 'failed', first)).toEqual({ kind: 'claimed' });
      expect(await count(0)).toBe(0);
      expect(await stores().recovery.markGivenUp(asRunId('999'), first.owner, 1)).toBe(false);
      expect(await stores().recovery.markGivenUp(asRunId('nope'), first.owner, 1)).toBe(false);
    });

    it('records a cancel request for an unfinished run only, with its first requester, and a re-run clears it', async () => {
      const [asked, other, done, anonymous] = [
        await createRun(),
        await createRun(),
        await createRun(),
        await createRun(),
      ];
      await stores().runs.updateRun(done.id, { status: 'failed', finishedAt: 1_700_000_010_000 });
      expect(await stores().recovery.cancelRequests([asked.id, other.id])).toEqual(new Map());
      expect(
        await stores().recovery.requestCancel(asked.id, 1_700_000_011_000, 'valkyrie cancel by ada'),
      ).toBe(true);
      expect(await stores().recovery.requestCancel(asked.id, 1_700_000_012_000, 'a later request')).toBe(
        true,
      );
      expect(await stores().recovery.requestCancel(anonymous.id, 1_700_000_012_000)).toBe(true);
      expect(await stores().recovery.requestCancel(done.id, 1_700_000_011_000)).toBe(false);
      expect(await stores().recovery.requestCancel(asRunId('999'), 1_700_000_011_000)).toBe(false);
      const all = [asked.id, other.id, done.id, anonymous.id, asRunId('nope')];
      expect(await stores().recovery.cancelRequests(all)).toEqual(
        new Map([
          [asked.id, 'valkyrie cancel by ada'],
          [anonymous.id, undefined],
        ]),
      );
      expect(await stores().recovery.cancelRequests([])).toEqual(new Map());

      await stores().runs.updateRun(asked.id, { status: 'cancelled', finishedAt: 1_700_000_013_000 });
      await stores().runs.updateRun(anonymous.id, { status: 'cancelled', finishedAt: 1_700_000_013_000 });
      expect(await stores().recovery.cancelRequests(all)).toEqual(new Map());
      await stores().recovery.saveResumable(asked.id, { source, request }, first);
      expect(await stores().recovery.reopen(asked.id, 'cancelled', second)).toEqual({ kind: 'claimed' });
      expect(await stores().recovery.cancelRequests(all)).toEqual(new Map());
      // The re-run's own request is recorded afresh, not under the cleared one's requester.
      expect(await stores().recovery.requestCancel(asked.id, 1_700_000_014_000, "the re-run's cancel")).toBe(
        true,
      );
      expect(await stores().recovery.cancelRequests([asked.id])).toEqual(
        new Map([[asked.id, "the re-run's cancel"]]),
      );
    });
  });
}
