import { describe, expect, it } from 'vitest';
import { at, request, staleAfterMs } from '../core/group-requests.js';
import { orAfter } from '../core/race-timeout.js';
import { type StoresFactory, useStores } from './fixture.js';

/** The ConcurrencyStore lifecycle every implementation must honour (a fresh, empty store per test). */
export function concurrencyStoreContract(make: StoresFactory): void {
  describe('concurrency groups', () => {
    const stores = useStores(make);
    const groups = () => stores().concurrency;

    it('lets the first member run and makes the next one wait behind it', async () => {
      expect(await groups().join(request('a'), at(1))).toEqual({ kind: 'running', cancelRequested: false });
      expect(await groups().join(request('b'), at(2))).toEqual({ kind: 'pending', ahead: 1 });
      expect(await groups().heartbeat('b', at(3))).toEqual({ kind: 'pending', ahead: 1 });
      await groups().release('a', at(4));
      expect(await groups().heartbeat('b', at(5))).toEqual({ kind: 'running', cancelRequested: false });
    });

    it('keeps groups apart', async () => {
      await groups().join(request('a'), at(1));
      expect(await groups().join(request('b', { group: 'other' }), at(2))).toMatchObject({ kind: 'running' });
      expect((await groups().list('deploy')).map((m) => m.memberId)).toEqual(['a']);
    });

    it('names groups case-insensitively, as GitHub: Deploy and DEPLOY are one group', async () => {
      await groups().join(request('a', { group: 'Deploy-Main' }), at(1));
      const watch = await groups().watch('deploy-main');
      try {
        const changed = watch.next();
        expect(await groups().join(request('b', { group: 'deploy-main' }), at(2))).toEqual({
          kind: 'pending',
          ahead: 1,
        });
        expect(await groups().join(request('c', { group: 'DEPLOY-MAIN' }), at(3))).toEqual({
          kind: 'pending',
          ahead: 1,
        });
        expect(await groups().heartbeat('b', at(4))).toEqual({ kind: 'replaced', by: 'c' });
        expect((await groups().list('DePloY-mAiN')).map((m) => m.memberId)).toEqual(['a', 'b', 'c']);
        await groups().release('a', at(5));
        expect(await settlesWithin(changed, 5_000)).toBe(true);
        expect(await groups().heartbeat('c', at(6))).toEqual({ kind: 'running', cancelRequested: false });
      } finally {
        watch.close();
      }
    });

    it('replaces the waiting member with a newer one', async () => {
      await groups().join(request('a'), at(1));
      await groups().join(request('b'), at(2));
      expect(await groups().join(request('c'), at(3))).toEqual({ kind: 'pending', ahead: 1 });
      expect(await groups().heartbeat('b', at(4))).toEqual({ kind: 'replaced', by: 'c' });
      await groups().release('b', at(5));
      await groups().release('a', at(6));
      expect(await groups().heartbeat('c', at(7))).toEqual({ kind: 'running', cancelRequested: false });
    });

    it('with queue keeps every waiting member, and promotes them in join order', async () => {
      for (const [i, id] of ['a', 'b', 'c', 'd'].entries())
        await groups().join(request(id, { queue: true }), at(i));
      expect(await groups().heartbeat('d', at(10))).toEqual({ kind: 'pending', ahead: 3 });
      for (const [holder, next] of [
        ['a', 'b'],
        ['b', 'c'],
        ['c', 'd'],
      ] as const) {
        await groups().release(holder, at(20));
        expect(await groups().heartbeat(next, at(21))).toMatchObject({ kind: 'running' });
      }
      expect((await groups().list('deploy')).map((m) => [m.memberId, m.phase])).toEqual([['d', 'running']]);
    });

    it('with cancel-in-progress asks the running member to cancel; the newcomer waits until it releases', async () => {
      await groups().join(request('a'), at(1));
      expect(await groups().join(request('b', { cancelInProgress: true }), at(2))).toEqual({
        kind: 'pending',
        ahead: 1,
      });
      expect(await groups().heartbeat('a', at(3))).toEqual({ kind: 'running', cancelRequested: true });
      await groups().release('a', at(4));
      expect(await groups().heartbeat('b', at(5))).toEqual({ kind: 'running', cancelRequested: false });
    });

    it('frees the slot of a holder whose heartbeat went stale', async () => {
      await groups().join(request('a'), at(0));
      await groups().join(request('b'), at(1));
      expect(await groups().heartbeat('b', at(staleAfterMs))).toEqual({ kind: 'pending', ahead: 1 });
      expect(await groups().heartbeat('b', at(staleAfterMs + 1))).toEqual({
        kind: 'running',
        cancelRequested: false,
      });
      expect(await groups().heartbeat('a', at(staleAfterMs + 2))).toEqual({ kind: 'gone' });
    });

    it('adopts a live member (a process took its work over): renamed, same seq and phase, no one else changed', async () => {
      for (const [i, id] of ['a#1', 'b#1', 'c#1'].entries()) await groups().join(request(id), at(i + 1));
      const other = await stores.another();
      const before = await groups().list('deploy');
      const adopt = (family: string) => ({ adopt: family, cancelInProgress: true });
      expect(await other.concurrency.join(request('a#2', adopt('a#')), at(5_000))).toEqual({
        kind: 'running',
        cancelRequested: false,
      });
      expect(await other.concurrency.join(request('c#2', adopt('c#')), at(5_001))).toEqual({
        kind: 'pending',
        ahead: 1,
      });
      const after = await groups().list('deploy');
      expect(after.map((m) => [m.memberId, m.seq, m.phase, m.cancelRequested, m.heartbeatAt])).toEqual([
        ['a#2', before[0]?.seq, 'running', false, 5_000],
        ['b#1', before[1]?.seq, 'replaced', false, 2],
        ['c#2', before[2]?.seq, 'pending', false, 5_001],
      ]);
      // The earlier process, should it still run, finds its member gone and cannot free the slot.
      expect(await groups().heartbeat('a#1', at(5_002))).toEqual({ kind: 'gone' });
      await groups().release('a#1', at(5_003));
      expect((await groups().list('deploy')).map((m) => m.memberId)).toEqual(['a#2', 'b#1', 'c#2']);
      // Still live past the stale interval of its first beats: the adopter's beats count.
      expect(await other.concurrency.heartbeat('a#2', at(3 + staleAfterMs))).toMatchObject({
        kind: 'running',
      });
    });

    it('adopting a member that is gone joins at the back', async () => {
      await groups().join(request('a#1', { queue: true }), at(1));
      await groups().join(request('b#1', { queue: true }), at(2));
      await groups().release('a#1', at(3));
      expect(await groups().join(request('a#2', { adopt: 'a#', queue: true }), at(4))).toEqual({
        kind: 'pending',
        ahead: 1,
      });
      const members = await groups().list('deploy');
      expect(members.map((m) => [m.memberId, m.seq, m.phase])).toEqual([
        ['b#1', 2, 'running'],
        ['a#2', 3, 'pending'],
      ]);
    });

    it('passes over a waiting member whose owner exited; a running one keeps the slot until its beats are stale', async () => {
      const dead = { host: 'here', pid: 101 };
      const live = { host: 'here', pid: 102 };
      const exited = (owner: { host: string; pid: number }) => owner.pid === dead.pid;
      const now = (ms: number) => ({ ...at(ms), exited });
      // Joined while their owners lived (a clock without `exited`: only beats count), owners kept.
      await groups().join(request('a', { queue: true, owner: dead }), at(1));
      await groups().join(request('b', { queue: true, owner: dead }), at(2));
      expect(await groups().join(request('c', { queue: true, owner: live }), at(3))).toEqual({
        kind: 'pending',
        ahead: 2,
      });
      expect((await groups().list('deploy')).map((m) => m.owner)).toEqual([dead, dead, live]);
      // b waits for a process that exited: not counted ahead of c; a, running, keeps the slot.
      expect(await groups().heartbeat('c', now(4))).toEqual({ kind: 'pending', ahead: 1 });
      await groups().release('a', now(5));
      expect(await groups().heartbeat('c', now(6))).toEqual({ kind: 'running', cancelRequested: false });
      expect((await groups().list('deploy')).map((m) => [m.memberId, m.phase, m.owner])).toEqual([
        ['b', 'pending', dead],
        ['c', 'running', live],
      ]);
    });

    it('releases idempotently, and answers gone for an unknown member', async () => {
      await groups().join(request('a'), at(1));
      await groups().release('a', at(2));
      await groups().release('a', at(3));
      await groups().release('never-joined', at(3));
      expect(await groups().heartbeat('a', at(4))).toEqual({ kind: 'gone' });
      expect(await groups().list('deploy')).toEqual([]);
    });

    it('releases the members whose ids start with a prefix, in every group, promoting the next', async () => {
      await groups().join(request('job r_1.1:deploy#p'), at(1));
      await groups().join(request('job r_1.2:other#p', { group: 'other' }), at(1));
      await groups().join(request('job r_11.1:deploy#q', { queue: true }), at(2));
      // `_` and `%` are no wildcards: only ids that start with the prefix itself.
      await groups().join(request('job r%1.3:third#p', { group: 'third' }), at(2));
      expect(await groups().releasePrefixed('job r_1.', at(3))).toBe(2);
      expect(await groups().heartbeat('job r_11.1:deploy#q', at(4))).toMatchObject({ kind: 'running' });
      expect(await groups().list('other')).toEqual([]);
      expect((await groups().list('third')).map((m) => m.memberId)).toEqual(['job r%1.3:third#p']);
      expect(await groups().releasePrefixed('job r_1.', at(5))).toBe(0);
    });

    it('wakes a watch of the group when a member leaves, but not on a beat that changes nothing', async () => {
      await groups().join(request('a'), at(1));
      await groups().join(request('b'), at(2));
      const watch = await groups().watch('deploy');
      const unrelated = await groups().watch('other');
      try {
        const changed = watch.next();
        const otherChanged = unrelated.next();
        await groups().heartbeat('b', at(3));
        expect(await settlesWithin(changed, 300)).toBe(false);
        await groups().release('a', at(4));
        expect(await settlesWithin(changed, 5_000)).toBe(true);
        expect(await settlesWithin(otherChanged, 300)).toBe(false);
      } finally {
        watch.close();
        unrelated.close();
      }
    });

    it('lets exactly one of many members joining at once from two processes run', async () => {
      const other = await stores.another();
      const ids = Array.from({ length: 12 }, (_, i) => `m${i}`);
      const states = await Promise.all(
        ids.map((id, i) =>
          (i % 2 === 0 ? groups() : other.concurrency).join(request(id, { queue: true }), at(1)),
        ),
      );
      expect(states.filter((state) => state.kind === 'running')).toHaveLength(1);
      const members = await groups().list('deploy');
      expect(members).toHaveLength(ids.length);
      expect(new Set(members.map((m) => m.seq)).size).toBe(ids.length);
    });
  });
}

/** Whether `promise` settles within `ms` of real time. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return orAfter(
    promise.then(() => true),
    ms,
    false,
  );
}
