import { expect, it } from 'vitest';
import type { CloseInfo } from '../../src/protocol/transport-end.js';
import { orAfter } from '../core/race-timeout.js';
import {
  connectScriptedRunner,
  credential,
  oneJobWorkflow,
  startTestServer,
  type TestServer,
} from './helpers.js';
import { type OpenReplicaStores, onBothStores } from './replica-stores.js';

interface Listed {
  id: string;
  mode: string;
  connected: boolean;
  running: number;
  replica?: string;
  lastSeenAt?: number;
}

const syncMs = 25;

/**
 * Two servers on one store, as replicas behind a load balancer: one fleet of runners, one set of modes.
 * `freshStore` makes an empty store for one test and returns how to open it (once per replica).
 */
function runnerScenarios(name: string, openStores: OpenReplicaStores): void {
  const startReplica = async () =>
    startTestServer({ stores: await openStores(), runnerSyncIntervalMs: syncMs });

  it(`${name}: every replica lists a runner connected to another, and a drain asked of either reaches it`, async () => {
    const a = await startReplica();
    const b = await startReplica();
    const runner = await connectScriptedRunner(a.server.url, await credential(a.request, a.token), 1);
    const [onA] = await until(a, (runners) => runners.length === 1);
    const [onB] = await until(b, (runners) => runners[0]?.connected === true);
    expect(onB).toMatchObject({ id: onA?.id, mode: 'online', replica: onA?.replica });
    expect(onA?.replica).toEqual(expect.any(String));
    const id = onA?.id ?? '';

    const drained = await b.request('POST', `/api/v1/runners/${id}/drain`, { body: { note: 'retiring' } });
    expect(drained).toMatchObject({
      status: 200,
      body: { runner: { id, mode: 'draining', modeNote: 'retiring', connected: true } },
    });
    await until(a, (runners) => runners[0]?.mode === 'draining');
    // Replica a applies it at its next poll, and tells the runner, note and all.
    await expect
      .poll(() => runner.modes.at(-1))
      .toEqual({ type: 'mode', mode: 'draining', note: 'retiring' });
    await a.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const leased = runner.leases(1);
    expect(await leasedWithin300(leased, 'held back')).toBe('held back');
    expect(await b.request('POST', `/api/v1/runners/${id}/resume`)).toMatchObject({ status: 200 });
    expect(await leased).toHaveLength(1);
    await until(b, (runners) => runners[0]?.running === 1);
    runner.transport.close();
    await until(b, (runners) => runners[0]?.connected === false);
  });

  it(`${name}: a runner that left with a job is listed running nothing on every replica once its lease ended`, async () => {
    const replica = async () =>
      startTestServer({
        stores: await openStores(),
        runnerSyncIntervalMs: syncMs,
        controlPlane: { leaseTtlMs: 300 },
      });
    const a = await replica();
    const b = await replica();
    const runner = await connectScriptedRunner(a.server.url, await credential(a.request, a.token), 2);
    await a.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    await runner.leases(1);
    await until(b, (runners) => runners[0]?.running === 1);
    runner.transport.close();
    // Away, it keeps its lease for the TTL: listed offline with its job meanwhile, then with none.
    await until(b, (runners) => runners[0]?.connected === false);
    for (const server of [a, b]) {
      const [left] = await until(server, (runners) => runners[0]?.running === 0);
      expect(left).toMatchObject({ connected: false, running: 0 });
    }
  });

  it(`${name}: a mode follows a runner that reconnects to another replica, before it gets an offer there`, async () => {
    const a = await startReplica();
    const b = await startReplica();
    const secret = await credential(a.request, a.token);
    const first = await connectScriptedRunner(a.server.url, secret, 1);
    const [listed] = await until(a, (runners) => runners.length === 1);
    const id = listed?.id ?? '';
    const note = 'moving racks';
    expect(await a.request('POST', `/api/v1/runners/${id}/maintenance`, { body: { note } })).toMatchObject({
      status: 200,
    });
    first.transport.close();
    // A job waits on replica b; the runner, in maintenance, must not get it when it connects there.
    await b.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const second = await connectScriptedRunner(b.server.url, secret, 1);
    const leased = second.leases(1);
    expect(await leasedWithin300(leased, 'held back')).toBe('held back');
    const [moved] = await until(
      a,
      (runners) => runners[0]?.connected === true && runners[0].replica !== listed?.replica,
    );
    expect(moved).toMatchObject({ id, mode: 'maintenance', modeNote: note });
    expect(second.modes[0]).toMatchObject({ type: 'registered', mode: 'maintenance', note });
    expect(await a.request('POST', `/api/v1/runners/${id}/resume`)).toMatchObject({ status: 200 });
    expect(await leased).toHaveLength(1);
    second.transport.close();
  });

  it(`${name}: a credential revoked on one replica ends the runner's session on the other within its sync interval`, async () => {
    const a = await startReplica();
    const b = await startReplica();
    const secret = await credential(a.request, a.token);
    const runner = await connectScriptedRunner(a.server.url, secret, 1);
    const closed = new Promise<CloseInfo>((resolve) => runner.transport.onCloseInfo(resolve));
    await until(b, (runners) => runners[0]?.connected === true);
    const revokedAt = Date.now();
    expect((await b.request('DELETE', `/api/v1/tokens/${secret.split('.')[1]}`)).status).toBe(204);
    const info = await orAfter(closed, 5_000, undefined);
    expect(info).toMatchObject({ kind: 'refused', code: 'VK_CREDENTIAL_REVOKED' });
    // The bound: one sync interval and a store read; generous here, for a loaded machine.
    expect(Date.now() - revokedAt).toBeLessThan(2_000);
    await a.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    const leased = runner.leases(1);
    expect(await leasedWithin300(leased, 'none')).toBe('none');
  });

  it(`${name}: runners of a replica that stops are listed disconnected; those of one that died, once stale`, async () => {
    const a = await startReplica();
    const b = await startReplica();
    const runner = await connectScriptedRunner(a.server.url, await credential(a.request, a.token), 1);
    await until(b, (runners) => runners[0]?.connected === true);
    await a.server.destroy();
    const [gone] = await until(b, (runners) => runners[0]?.connected === false);
    expect(gone).toMatchObject({ mode: 'online' });
    runner.transport.close();
    // A replica that died never said so: its runners' rows stay connected, and their age tells.
    const stores = await openStores();
    try {
      const presence = { name: 'ghost', labels: ['linux'], capacity: 2, running: 1, draining: false };
      await stores.runners.connected('dead-replica', [{ id: 'rnr_ghost', ...presence }], Date.now() - 60_000);
      await stores.runners.connected('dead-replica', [{ id: 'rnr_fresh', ...presence }], Date.now());
    } finally {
      await stores.close();
    }
    const listed = await until(b, (runners) => runners.length === 3);
    const connected = Object.fromEntries(listed.map((runner) => [runner.id, runner.connected]));
    expect(connected).toMatchObject({ rnr_ghost: false, rnr_fresh: true });
    // Its leases were held in the dead replica's memory: gone with it.
    const running = Object.fromEntries(listed.map((runner) => [runner.id, runner.running]));
    expect(running).toMatchObject({ rnr_ghost: 0, rnr_fresh: 1 });
  });

  it(`${name}: a runner with a job on a replica that stops, or that left it with one, is listed running nothing on the others`, async () => {
    const a = await startReplica();
    const b = await startReplica();
    const stays = await connectScriptedRunner(a.server.url, await credential(a.request, a.token), 1);
    const leaves = await connectScriptedRunner(a.server.url, await credential(a.request, a.token), 1);
    for (let i = 0; i < 2; i++)
      await a.request('POST', '/api/v1/runs', { body: { workflow: oneJobWorkflow } });
    await Promise.all([stays.leases(1), leaves.leases(1)]);
    await until(b, (runners) => runners.length === 2 && runners.every((runner) => runner.running === 1));
    leaves.transport.close();
    // Away, it keeps its lease (for the default TTL of a minute) while replica A lasts.
    await until(b, (runners) => runners.filter((runner) => !runner.connected).length === 1);
    // A rolling deploy stops replica A: the leases, held in its memory, go with it.
    await a.server.destroy();
    const listed = await until(b, (runners) => runners.every((runner) => !runner.connected));
    expect(listed.map(({ connected, running }) => ({ connected, running }))).toEqual([
      { connected: false, running: 0 },
      { connected: false, running: 0 },
    ]);
    stays.transport.close();
  });

  it(`${name}: a runner that left a replica that died before it wrote the lower count is listed running nothing once a lease TTL passed`, async () => {
    const stores = await openStores();
    const now = Date.now();
    try {
      const presence = { name: 'left', labels: ['linux'], capacity: 2, running: 1, draining: false };
      for (const [id, leftAt] of [
        ['rnr_long_gone', now - 120_000],
        ['rnr_just_left', now - 1_000],
      ] as const) {
        await stores.runners.connected('dead-replica', [{ id, ...presence }], leftAt - 1_000);
        await stores.runners.disconnected('dead-replica', [id], leftAt);
      }
    } finally {
      await stores.close();
    }
    // The default lease TTL is a minute: the one that left 2 minutes ago holds no lease any more.
    const b = await startReplica();
    const listed = await until(b, (runners) => runners.length === 2);
    const running = Object.fromEntries(listed.map((runner) => [runner.id, runner.running]));
    expect(running).toEqual({ rnr_long_gone: 0, rnr_just_left: 1 });
  });

  it(`${name}: a replica's sweep prunes runners not seen for the retention, and lists the others gone as offline until then`, async () => {
    const stores = await openStores();
    const now = Date.now();
    try {
      const presence = { name: 'old', labels: ['linux'], capacity: 1, running: 0, draining: false };
      // Left by a replica that died two minutes ago; another that stopped (drained) half a minute ago.
      await stores.runners.connected('dead-replica', [{ id: 'rnr_old', ...presence }], now - 120_000);
      await stores.runners.setMode('rnr_old', 'maintenance');
      await stores.runners.connected(
        'replica-x',
        [{ id: 'rnr_left', ...presence, draining: true }],
        now - 40_000,
      );
      await stores.runners.disconnected('replica-x', ['rnr_left'], now - 30_000);
    } finally {
      await stores.close();
    }
    const replica = await startTestServer({
      stores: await openStores(),
      runnerSyncIntervalMs: syncMs,
      runnerRetentionMs: 60_000,
    });
    const runner = await connectScriptedRunner(
      replica.server.url,
      await credential(replica.request, replica.token),
      1,
    );
    const listed = await until(
      replica,
      (runners) => runners.length === 2 && !runners.some((r) => r.id === 'rnr_old'),
    );
    // Its own drain was its session's: gone, it is listed in its operator's mode, which it comes back in.
    expect(listed[0]).toMatchObject({
      id: 'rnr_left',
      connected: false,
      mode: 'online',
      lastSeenAt: now - 30_000,
    });
    expect(listed[1]).toMatchObject({ connected: true, mode: 'online' });
    runner.transport.close();
  });
}

async function until(server: TestServer, done: (runners: Listed[]) => boolean): Promise<Listed[]> {
  let runners: Listed[] = [];
  for (let i = 0; i < 200; i++) {
    runners = ((await server.request('GET', '/api/v1/runners')).body as { runners: Listed[] }).runners;
    if (done(runners)) return runners;
    await delay(20);
  }
  throw new Error(`the runner list never became as expected: ${JSON.stringify(runners)}`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

onBothStores('the runner list and modes across server replicas on one store', runnerScenarios);

/** 'leased' when `leased` settles within 300 ms, else `late`. */
function leasedWithin300(leased: Promise<unknown>, late: string): Promise<string> {
  return orAfter(
    leased.then(() => 'leased'),
    300,
    late,
  );
}
