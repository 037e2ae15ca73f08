import { describe, expect, it } from 'vitest';
import type { RunnerPresence } from '../../src/store/runners.js';
import { type StoresFactory, useStores } from './fixture.js';

const presence = (overrides: Partial<RunnerPresence> = {}): RunnerPresence => ({
  id: 'rnr_1',
  name: 'build-1',
  labels: ['linux', 'x64', 'gpu=a100'],
  capacity: 2,
  running: 0,
  draining: false,
  ...overrides,
});

/** The RunnerStore lifecycle every implementation must honour (a fresh, empty store per test). */
export function runnerStoreContract(make: StoresFactory): void {
  describe('runners', () => {
    const stores = useStores(make);
    const runners = () => stores().runners;

    it('lists nothing, knows no modes, and sets no mode of an unknown runner before anything is written', async () => {
      expect(await runners().list()).toEqual([]);
      expect(await runners().modes()).toEqual(new Map());
      expect(await runners().setMode('rnr_1', 'draining')).toBeUndefined();
      expect(await runners().list()).toEqual([]);
    });

    it('reads back every field of connected runners, in the order first written; optional ones stay absent', async () => {
      const capabilities = { os: 'linux', arch: 'x64', cpuCount: 4, gpus: [], tools: { git: '2.39' } };
      const full = presence({ id: 'rnr_2', transport: 'websocket', capabilities, running: 1 });
      const bare = presence({ id: 'rnr_1', name: 'build-0', labels: [] });
      await runners().connected('replica-a', [full], 100);
      await runners().connected('replica-b', [bare], 200);
      expect(await runners().list()).toEqual([
        { ...full, replica: 'replica-a', connected: true, firstSeenAt: 100, lastSeenAt: 100, mode: 'online' },
        { ...bare, replica: 'replica-b', connected: true, firstSeenAt: 200, lastSeenAt: 200, mode: 'online' },
      ]);
    });

    it('writes a runner again in place: fields and replica follow, its first sighting and mode stay', async () => {
      await runners().connected('replica-a', [presence()], 100);
      expect(await runners().setMode('rnr_1', 'maintenance')).toMatchObject({
        id: 'rnr_1',
        mode: 'maintenance',
      });
      await runners().connected(
        'replica-b',
        [presence({ running: 2, draining: true, labels: ['arm64'] })],
        300,
      );
      expect(await runners().list()).toEqual([
        {
          ...presence({ running: 2, draining: true, labels: ['arm64'] }),
          replica: 'replica-b',
          connected: true,
          firstSeenAt: 100,
          lastSeenAt: 300,
          mode: 'maintenance',
        },
      ]);
    });

    it('marks runners disconnected only where the replica still holds them', async () => {
      await runners().connected('replica-a', [presence({ id: 'rnr_1' }), presence({ id: 'rnr_2' })], 100);
      // rnr_2 moved to replica-b before replica-a noticed its old connection closed.
      await runners().connected('replica-b', [presence({ id: 'rnr_2' })], 150);
      await runners().disconnected('replica-a', ['rnr_1', 'rnr_2', 'nobody'], 200);
      const listed = await runners().list();
      expect(
        listed.map(({ id, replica, connected, lastSeenAt }) => ({ id, replica, connected, lastSeenAt })),
      ).toEqual([
        { id: 'rnr_1', replica: 'replica-a', connected: false, lastSeenAt: 200 },
        { id: 'rnr_2', replica: 'replica-b', connected: true, lastSeenAt: 150 },
      ]);
      // A runner that connects again is connected again.
      await runners().connected('replica-b', [presence({ id: 'rnr_1' })], 250);
      expect((await runners().list())[0]).toMatchObject({ replica: 'replica-b', connected: true });
    });

    it('records a deregistered runner as stopped with its mode; a later disconnect keeps it, a connect clears it', async () => {
      await runners().connected('replica-a', [presence({ id: 'rnr_1' }), presence({ id: 'rnr_2' })], 100);
      await runners().setMode('rnr_1', 'maintenance');
      await runners().disconnected('replica-a', ['rnr_1'], 200, true);
      await runners().disconnected('replica-b', ['rnr_2'], 200, true);
      await runners().disconnected('replica-a', ['rnr_1'], 300);
      const listed = await runners().list();
      expect(listed[0]).toMatchObject({ id: 'rnr_1', connected: false, mode: 'maintenance', stoppedAt: 200 });
      expect(listed[0]?.lastSeenAt).toBe(300);
      // Another replica holds rnr_2: its deregistration is not this replica's to write.
      expect(listed[1]).toMatchObject({ id: 'rnr_2', connected: true });
      expect(listed[1]?.stoppedAt).toBeUndefined();
      await runners().connected('replica-b', [presence({ id: 'rnr_1' })], 400);
      const back = (await runners().list())[0];
      expect(back).toMatchObject({ connected: true, mode: 'maintenance' });
      expect(back?.stoppedAt).toBeUndefined();
    });

    it("updates an away runner's job count only where that replica marked it disconnected", async () => {
      await runners().connected('replica-a', [presence({ id: 'rnr_1', running: 1 })], 100);
      await runners().connected('replica-a', [presence({ id: 'rnr_2', running: 1 })], 100);
      await runners().connected('replica-b', [presence({ id: 'rnr_3', running: 1 })], 100);
      await runners().disconnected('replica-a', ['rnr_1', 'rnr_3'], 200);
      for (const id of ['rnr_1', 'rnr_2', 'rnr_3']) await runners().awayRunning('replica-a', id, 0);
      const running = Object.fromEntries(
        (await runners().list()).map((runner) => [runner.id, runner.running]),
      );
      expect(running).toEqual({ rnr_1: 0, rnr_2: 1, rnr_3: 1 });
      expect((await runners().list())[0]).toMatchObject({ connected: false, lastSeenAt: 200 });
    });

    it('touches only the runners still connected to that replica', async () => {
      await runners().connected('replica-a', [presence({ id: 'rnr_1' }), presence({ id: 'rnr_2' })], 100);
      await runners().connected('replica-b', [presence({ id: 'rnr_3' })], 100);
      await runners().disconnected('replica-a', ['rnr_2'], 110);
      await runners().touch('replica-a', 500);
      const seen = Object.fromEntries(
        (await runners().list()).map((runner) => [runner.id, runner.lastSeenAt]),
      );
      expect(seen).toEqual({ rnr_1: 500, rnr_2: 110, rnr_3: 100 });
    });

    it('keeps modes: lists the set-aside ones, forgets one set back online', async () => {
      await runners().connected('replica-a', [presence({ id: 'rnr_1' }), presence({ id: 'rnr_2' })], 100);
      await runners().setMode('rnr_1', 'draining');
      await runners().setMode('rnr_2', 'maintenance');
      expect(await runners().modes()).toEqual(
        new Map([
          ['rnr_1', { mode: 'draining' }],
          ['rnr_2', { mode: 'maintenance' }],
        ]),
      );
      expect(await runners().setMode('rnr_1', 'online')).toMatchObject({ mode: 'online', connected: true });
      expect(await runners().modes()).toEqual(new Map([['rnr_2', { mode: 'maintenance' }]]));
    });

    it("keeps the operator's note with the mode it came with: replaced by the next, gone when online", async () => {
      await runners().connected('replica-a', [presence()], 100);
      expect(await runners().setMode('rnr_1', 'maintenance', 'disk swap until 14:00')).toMatchObject({
        mode: 'maintenance',
        modeNote: 'disk swap until 14:00',
      });
      await runners().connected('replica-b', [presence({ running: 1 })], 200);
      expect((await runners().list())[0]?.modeNote).toBe('disk swap until 14:00');
      // Every replica reads it with the mode, to tell the runner wherever it connects.
      expect(await runners().modes()).toEqual(
        new Map([['rnr_1', { mode: 'maintenance', note: 'disk swap until 14:00' }]]),
      );
      // The same mode again without a note (a drain repeated to make sure) keeps it.
      expect(await runners().setMode('rnr_1', 'maintenance')).toMatchObject({
        modeNote: 'disk swap until 14:00',
      });
      expect(await runners().setMode('rnr_1', 'draining')).not.toHaveProperty('modeNote');
      expect(await runners().modes()).toEqual(new Map([['rnr_1', { mode: 'draining' }]]));
      await runners().setMode('rnr_1', 'draining', 'retiring');
      expect(await runners().setMode('rnr_1', 'draining')).toMatchObject({ modeNote: 'retiring' });
      expect(await runners().setMode('rnr_1', 'draining', 'retiring for good')).toMatchObject({
        modeNote: 'retiring for good',
      });
      expect(await runners().setMode('rnr_1', 'online', 'ignored when online')).not.toHaveProperty(
        'modeNote',
      );
      expect((await runners().list())[0]).not.toHaveProperty('modeNote');
    });

    it('shares rows and modes with another handle on the same store (another replica)', async () => {
      const other = await stores.another();
      await runners().connected('replica-a', [presence()], 100);
      await other.runners.setMode('rnr_1', 'draining');
      expect(await runners().modes()).toEqual(new Map([['rnr_1', { mode: 'draining' }]]));
      expect(await other.runners.list()).toEqual([
        expect.objectContaining({ id: 'rnr_1', replica: 'replica-a', mode: 'draining' }),
      ]);
    });

    it('prunes the runners not seen since a time, disconnected or left by a replica that died; fresh ones stay', async () => {
      await runners().connected(
        'replica-a',
        [presence({ id: 'rnr_left' }), presence({ id: 'rnr_here' })],
        100,
      );
      await runners().disconnected('replica-a', ['rnr_left'], 150);
      // A replica that died never marked its runner disconnected: only its age tells.
      await runners().connected('dead-replica', [presence({ id: 'rnr_ghost' })], 120);
      await runners().connected('replica-b', [presence({ id: 'rnr_recent' })], 400);
      await runners().disconnected('replica-b', ['rnr_recent'], 450);
      await runners().setMode('rnr_ghost', 'maintenance');
      await runners().touch('replica-a', 500);
      // rnr_recent, seen at exactly the bound, stays.
      expect(await runners().prune(450)).toBe(2);
      expect((await runners().list()).map((runner) => runner.id)).toEqual(['rnr_here', 'rnr_recent']);
      expect(await runners().modes()).toEqual(new Map());
      expect(await runners().prune(450)).toBe(0);
      // One that connects again after it was pruned is written anew: first seen now, online.
      await runners().connected('replica-b', [presence({ id: 'rnr_ghost' })], 600);
      expect((await runners().list()).at(-1)).toMatchObject({
        id: 'rnr_ghost',
        firstSeenAt: 600,
        mode: 'online',
      });
    });

    it('removes one runner by id, and says whether there was one', async () => {
      await runners().connected('replica-a', [presence({ id: 'rnr_1' }), presence({ id: 'rnr_2' })], 100);
      await runners().setMode('rnr_1', 'draining');
      expect(await runners().remove('rnr_1')).toBe(true);
      expect(await runners().remove('rnr_1')).toBe(false);
      expect(await runners().remove('nobody')).toBe(false);
      expect((await runners().list()).map((runner) => runner.id)).toEqual(['rnr_2']);
      expect(await runners().modes()).toEqual(new Map());
    });

    it('takes an empty batch', async () => {
      await runners().connected('replica-a', [], 1);
      await runners().disconnected('replica-a', [], 1);
      await runners().touch('replica-a', 1);
      expect(await runners().list()).toEqual([]);
    });
  });
}
