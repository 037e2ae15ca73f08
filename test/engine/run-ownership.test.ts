import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunId } from '../../src/core/ids.js';
import { thisProcess } from '../../src/engine/run-owner.js';
import { endUnfinishedRun } from '../../src/engine/run-ownership.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { tempDir } from '../store/factories.js';

/**
 * endUnfinishedRun gives up the concurrency places of a run whose owner is certainly dead, and keeps
 * them when the owner was only judged gone by a late heartbeat: a stalled process still runs what
 * those places guard, and only the stale sweep (its beats 10 s old) may free them then.
 */
describe('endUnfinishedRun and the places a run held in concurrency groups', () => {
  let stores: Stores;
  let remove: () => Promise<void>;
  beforeEach(async () => {
    const dir = await tempDir();
    remove = dir.remove;
    stores = openSqliteStores(join(dir.dir, 'state.db'));
  });
  afterEach(async () => {
    await stores.close();
    await remove();
  });

  async function runHoldingPlaces(): Promise<RunId> {
    const now = Date.now();
    const run = await stores.runs.createRun({
      workflowName: 'deploy',
      workflowPath: 'deploy.yml',
      createdAt: now,
    });
    const request = {
      workspace: '/w',
      actor: 'me',
      vars: {},
      envOverrides: {},
      extraLabels: [],
      secretNames: [],
      groupMember: `local-${run.id}`,
    };
    await stores.recovery.saveResumable(
      run.id,
      { source: 'jobs: {}', request },
      { owner: { host: 'elsewhere', pid: 1 }, heartbeatAt: now },
    );
    const clock = { now, staleBefore: now - 10_000 };
    const join = (group: string, memberId: string) =>
      stores.concurrency.join({ group, memberId, cancelInProgress: false, queue: false }, clock);
    await join(`workflow-${run.id}`, `local-${run.id}`);
    await join(`server-${run.id}`, `run ${run.id}:0f3c`);
    await join(`job-${run.id}`, `job ${run.id}.1:job-${run.id}#owner`);
    // The caller of endUnfinishedRun owns the run (store/run-fence.ts): this process claims it, as a takeover does.
    const next = { owner: thisProcess(), heartbeatAt: now + 1 };
    await stores.recovery.claim(run.id, { owner: { host: 'elsewhere', pid: 1 }, heartbeatAt: now }, next);
    return run.id;
  }

  const places = async (id: RunId) =>
    (
      await Promise.all(
        [`workflow-${id}`, `server-${id}`, `job-${id}`].map((group) => stores.concurrency.list(group)),
      )
    ).flat().length;

  it('gives them all up when the owner is certainly dead', async () => {
    const id = await runHoldingPlaces();
    const other = await runHoldingPlaces();
    await endUnfinishedRun(stores, id, Date.now(), { status: 'cancelled', reason: 'cancelled' }, true);
    expect(await places(id)).toBe(0);
    expect(await places(other)).toBe(3);
  });

  it('keeps them when the owner may only be stalled', async () => {
    const id = await runHoldingPlaces();
    await endUnfinishedRun(stores, id, Date.now(), { status: 'cancelled', reason: 'cancelled' }, false);
    expect(await places(id)).toBe(3);
    expect((await stores.runs.getRun(id))?.status).toBe('cancelled');
  });
});
