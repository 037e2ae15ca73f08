import { describe, expect, it } from 'vitest';
import { asRunId } from '../../src/core/ids.js';
import type { RunOwnership, StoredRunRequest } from '../../src/store/recovery.js';
import { processRunOwner } from '../../src/store/run-fence.js';
import { type StoresFactory, useStores } from './fixture.js';

/** A server run's stored request and workflow, as the handoff tests store them. */
export const request: StoredRunRequest = {
  workspace: '/work/repo',
  actor: 'ada',
  vars: {},
  envOverrides: {},
  extraLabels: [],
  secretNames: [],
  driver: 'server',
};
export const source = 'name: ci\njobs:\n  a:\n    runs-on: linux\n    steps:\n      - run: echo hi\n';
const at = 1_700_000_000_000;
// The owner the stores write runs for (this process: store/run-fence.ts).
const driver: RunOwnership = { owner: processRunOwner(), heartbeatAt: at };
const other: RunOwnership = { owner: { host: 'box-2', pid: 77 }, heartbeatAt: at + 1_000 };
const floorMs = 10_000;

/**
 * RunRecoveryStore.handOff: the driver of a run hands it to a replica by name, with a compare-and-set
 * on its ownership and a floor between two handoffs; the claim that follows ends the handoff.
 */
export function runHandoffContract(make: StoresFactory): void {
  describe('run handoff', () => {
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

    it('hands a run off for its owner only, once, records whom to and when, and stops its heartbeat', async () => {
      const run = await savedRun();
      const recovery = stores().recovery;
      expect(await recovery.handOff(run.id, other.owner, 'replica-b', at + 2_000, floorMs)).toBe(false);
      expect(await recovery.handOff(run.id, driver.owner, 'replica-b', at + 2_000, floorMs)).toBe(true);
      // Handed off already: not again, not even to another replica, until a claim takes it.
      expect(await recovery.handOff(run.id, driver.owner, 'replica-c', at + 60_000, floorMs)).toBe(false);
      const handed = {
        owner: driver.owner,
        heartbeatAt: at + 2_000,
        handedTo: 'replica-b',
        handedOffAt: at + 2_000,
      };
      expect((await recovery.ownerships([run.id])).get(run.id)).toEqual(handed);
      expect((await recovery.getResumable(run.id))?.ownership).toEqual(handed);
      // Its last driver's late heartbeat neither lands nor makes the handoff look newer.
      expect(await recovery.heartbeat(run.id, driver.owner, at + 3_000)).toBe(false);
      expect((await recovery.ownerships([run.id])).get(run.id)?.heartbeatAt).toBe(at + 2_000);
      expect(await recovery.handOff(asRunId('999'), driver.owner, 'replica-b', at, floorMs)).toBe(false);
      expect(await recovery.handOff(asRunId('nope'), driver.owner, 'replica-b', at, floorMs)).toBe(false);
    });

    it('ends the handoff with the claim, keeps when it was, and refuses the next one within the floor', async () => {
      const run = await savedRun();
      const recovery = stores().recovery;
      expect(await recovery.handOff(run.id, driver.owner, 'replica-b', at + 2_000, floorMs)).toBe(true);
      const judged = (await recovery.ownerships([run.id])).get(run.id);
      const next: RunOwnership = { owner: driver.owner, heartbeatAt: at + 3_000 };
      expect(await recovery.claim(run.id, judged, next)).toEqual({ kind: 'claimed' });
      expect((await recovery.ownerships([run.id])).get(run.id)).toEqual({ ...next, handedOffAt: at + 2_000 });
      expect(await recovery.heartbeat(run.id, driver.owner, at + 4_000)).toBe(true);
      // Handed back too soon after the last handoff: refused, the run stays with its driver.
      expect(
        await recovery.handOff(run.id, driver.owner, 'replica-a', at + 2_000 + floorMs - 1, floorMs),
      ).toBe(false);
      expect((await recovery.ownerships([run.id])).get(run.id)?.handedTo).toBeUndefined();
      expect(await recovery.handOff(run.id, driver.owner, 'replica-a', at + 2_000 + floorMs, floorMs)).toBe(
        true,
      );
    });

    it('hands off no finished run, and a re-run ends a handoff', async () => {
      const run = await savedRun();
      const recovery = stores().recovery;
      expect(await recovery.handOff(run.id, driver.owner, 'replica-b', at + 2_000, floorMs)).toBe(true);
      await stores().runs.updateRun(run.id, { status: 'failed', finishedAt: at + 3_000 });
      const rerun: RunOwnership = { owner: driver.owner, heartbeatAt: at + 4_000 };
      expect(await recovery.reopen(run.id, 'failed', rerun)).toEqual({ kind: 'claimed' });
      expect((await recovery.ownerships([run.id])).get(run.id)?.handedTo).toBeUndefined();
      await stores().runs.updateRun(run.id, { status: 'succeeded', finishedAt: at + 5_000 });
      expect(await recovery.handOff(run.id, driver.owner, 'replica-b', at + 60_000, floorMs)).toBe(false);
    });
  });
}
