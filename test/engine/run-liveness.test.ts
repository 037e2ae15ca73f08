import { afterEach, describe, expect, it } from 'vitest';
import { RunHeartbeat } from '../../src/engine/run-heartbeat.js';
import {
  heartbeatIntervalMs,
  runLiveness,
  staleHandoffMs,
  staleHeartbeatMs,
} from '../../src/engine/run-liveness.js';
import type { RunOwnership } from '../../src/store/recovery.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock } from '../core/manual-clock.js';
import { tempDir } from '../store/factories.js';

const ownership: RunOwnership = { owner: { host: 'box', pid: 10 }, heartbeatAt: 1_000_000 };
const alive = () => false;

describe('runLiveness', () => {
  it('is alive up to three heartbeat intervals, interrupted after', () => {
    expect(runLiveness('running', ownership, 1_000_000 + staleHeartbeatMs, alive)).toMatchObject({
      kind: 'alive',
      ageMs: staleHeartbeatMs,
    });
    expect(runLiveness('running', ownership, 1_000_001 + staleHeartbeatMs, alive)).toMatchObject({
      kind: 'interrupted',
      why: 'stale_heartbeat',
    });
    expect(staleHeartbeatMs).toBe(3 * heartbeatIntervalMs);
  });

  it('is interrupted at once when the owner process is known to have exited', () => {
    expect(runLiveness('queued', ownership, 1_000_000, () => true)).toMatchObject({
      kind: 'interrupted',
      why: 'owner_exited',
    });
  });

  it('is interrupted at once when its owner, of any host, released it, whether or not it still runs', () => {
    const released = { ...ownership, releasedAt: ownership.heartbeatAt };
    expect(runLiveness('running', released, 1_000_000, alive)).toMatchObject({
      kind: 'interrupted',
      why: 'released',
    });
    expect(runLiveness('succeeded', released, 1_000_000, alive)).toEqual({ kind: 'finished' });
  });

  it('gives the replica a run was handed to time to adopt it, whether or not its last owner exited', () => {
    const handed = { ...ownership, handedTo: 'box-2/11', handedOffAt: ownership.heartbeatAt };
    expect(runLiveness('queued', handed, 1_000_000 + staleHandoffMs, () => true)).toMatchObject({
      kind: 'alive',
    });
    expect(runLiveness('queued', handed, 1_000_001 + staleHandoffMs, () => true)).toMatchObject({
      kind: 'interrupted',
      why: 'stale_heartbeat',
    });
    expect(staleHandoffMs).toBeGreaterThan(staleHeartbeatMs);
  });

  it('says finished for finished runs and unowned for runs without recovery data', () => {
    expect(runLiveness('succeeded', ownership, 9e12, () => true)).toEqual({ kind: 'finished' });
    expect(runLiveness('running', undefined, 9e12, () => true)).toEqual({ kind: 'unowned' });
  });
});

describe('RunHeartbeat', () => {
  let stores: Stores | undefined;
  let remove: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stores?.close();
    await remove?.();
  });

  it('moves the stored heartbeat every interval until stopped, and reports a takeover once', async () => {
    const dir = await tempDir();
    remove = dir.remove;
    stores = openSqliteStores(`${dir.dir}/state.db`);
    const clock = new ManualClock(1_000_000);
    const run = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 });
    const request = {
      workspace: '/',
      actor: 'a',
      vars: {},
      envOverrides: {},
      extraLabels: [],
      secretNames: [],
    };
    await stores.recovery.saveResumable(run.id, { source: 'x', request }, ownership);
    let lost = 0;
    const heartbeat = new RunHeartbeat(stores.recovery, run.id, ownership.owner, clock, () => lost++);
    heartbeat.start();
    const beatAt = async () => (await stores?.recovery.getResumable(run.id))?.ownership?.heartbeatAt;

    await clock.advance(heartbeatIntervalMs - 1);
    expect(await beatAt()).toBe(1_000_000);
    await clock.advance(1);
    expect(await beatAt()).toBe(1_000_000 + heartbeatIntervalMs);
    await clock.advance(heartbeatIntervalMs);
    expect(await beatAt()).toBe(1_000_000 + 2 * heartbeatIntervalMs);

    const taker: RunOwnership = { owner: { host: 'other', pid: 1 }, heartbeatAt: 5 };
    const current = { ...ownership, heartbeatAt: 1_000_000 + 2 * heartbeatIntervalMs };
    expect(await stores.recovery.claim(run.id, current, taker)).toEqual({ kind: 'claimed' });
    await clock.advance(3 * heartbeatIntervalMs);
    expect(lost).toBe(1);
    expect(await beatAt()).toBe(5);

    heartbeat.stop();
    expect(clock.pending).toBe(0);
  });
});
