import { describe, expect, it } from 'vitest';
import { asRunId } from '../../src/core/ids.js';
import type { RunOwnership } from '../../src/store/recovery.js';
import { processRunOwner } from '../../src/store/run-fence.js';
import { type StoresFactory, useStores } from './fixture.js';
import { request, source } from './run-handoff.contract.js';

const at = 1_700_000_000_000;
// The owner the stores write runs for (this process: store/run-fence.ts).
const driver: RunOwnership = { owner: processRunOwner(), heartbeatAt: at };
const other = { host: 'box-2', pid: 77 };

/**
 * RunRecoveryStore.release: the driver of a run lets it go for good (a server stopping), with a
 * compare-and-set on its ownership; its heartbeat and handoffs no longer land, and the claim that
 * follows — which any process may make — ends the release.
 */
export function runReleaseContract(make: StoresFactory): void {
  describe('run release', () => {
    const stores = useStores(make);
    const savedRun = async () => {
      const run = await stores().runs.createRun({
        workflowName: 'ci',
        workflowPath: 'ci.yml',
        createdAt: at,
      });
      await stores().recovery.saveResumable(run.id, { source, request }, driver);
      return run;
    };

    it('releases a run for its owner only, once, and stops its heartbeat and handoffs', async () => {
      const run = await savedRun();
      const recovery = stores().recovery;
      expect(await recovery.release(run.id, other, at + 2_000)).toBe(false);
      expect(await recovery.release(run.id, driver.owner, at + 2_000)).toBe(true);
      expect(await recovery.release(run.id, driver.owner, at + 3_000)).toBe(false);
      const released = { owner: driver.owner, heartbeatAt: at + 2_000, releasedAt: at + 2_000 };
      expect((await recovery.ownerships([run.id])).get(run.id)).toEqual(released);
      expect((await recovery.getResumable(run.id))?.ownership).toEqual(released);
      expect(await recovery.heartbeat(run.id, driver.owner, at + 3_000)).toBe(false);
      expect(await recovery.handOff(run.id, driver.owner, 'replica-b', at + 3_000, 0)).toBe(false);
      expect((await recovery.ownerships([run.id])).get(run.id)).toEqual(released);
      expect(await recovery.release(asRunId('999'), driver.owner, at)).toBe(false);
      expect(await recovery.release(asRunId('nope'), driver.owner, at)).toBe(false);
    });

    it('ends the release with a claim by any owner, compared as read', async () => {
      const run = await savedRun();
      const recovery = stores().recovery;
      expect(await recovery.release(run.id, driver.owner, at + 2_000)).toBe(true);
      const judged = (await recovery.ownerships([run.id])).get(run.id);
      // The ownership as it was before the release is not the one to claim against.
      const taker: RunOwnership = { owner: other, heartbeatAt: at + 2_500 };
      expect(await recovery.claim(run.id, driver, taker)).toEqual({ kind: 'lost' });
      expect(await recovery.claim(run.id, judged, taker)).toEqual({ kind: 'claimed' });
      expect(await recovery.claim(run.id, judged, { ...taker, heartbeatAt: at + 2_600 })).toEqual({
        kind: 'lost',
      });
      expect((await recovery.ownerships([run.id])).get(run.id)).toEqual(taker);
      // Its last driver no longer owns it: neither its heartbeat nor another release lands.
      expect(await recovery.heartbeat(run.id, driver.owner, at + 3_000)).toBe(false);
      expect(await recovery.release(run.id, driver.owner, at + 3_000)).toBe(false);
    });

    it('releases no run handed off or finished, and a re-run ends a release', async () => {
      const handed = await savedRun();
      const recovery = stores().recovery;
      expect(await recovery.handOff(handed.id, driver.owner, 'replica-b', at + 1_000, 0)).toBe(true);
      expect(await recovery.release(handed.id, driver.owner, at + 2_000)).toBe(false);
      const run = await savedRun();
      expect(await recovery.release(run.id, driver.owner, at + 2_000)).toBe(true);
      await stores().runs.updateRun(run.id, { status: 'failed', finishedAt: at + 3_000 });
      const rerun: RunOwnership = { owner: driver.owner, heartbeatAt: at + 4_000 };
      expect(await recovery.reopen(run.id, 'failed', rerun)).toEqual({ kind: 'claimed' });
      expect((await recovery.ownerships([run.id])).get(run.id)).toEqual(rerun);
      expect(await recovery.heartbeat(run.id, driver.owner, at + 5_000)).toBe(true);
      await stores().runs.updateRun(run.id, { status: 'succeeded', finishedAt: at + 6_000 });
      expect(await recovery.release(run.id, driver.owner, at + 7_000)).toBe(false);
    });
  });
}
