import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MemberState } from '../../src/core/concurrency-group.js';
import {
  enterConcurrencyGroup,
  type GateOptions,
  type HoldAlert,
} from '../../src/engine/concurrency-gate.js';
import { GroupMembership, type MembershipEnd } from '../../src/engine/group-membership.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock } from '../core/manual-clock.js';
import { orAfter } from '../core/race-timeout.js';
import { tempDir } from '../store/factories.js';
import { describeOnPostgres, postgresFactory } from '../store/postgres-server.js';

const member = (memberId: string, extra: { cancelInProgress?: boolean; queue?: boolean } = {}) => ({
  group: 'deploy',
  memberId,
  cancelInProgress: extra.cancelInProgress ?? false,
  queue: extra.queue ?? false,
});

describe('enterConcurrencyGroup and GroupHold (SQLite file, manual clock)', () => {
  let stores: Stores;
  let remove: () => Promise<void>;
  let clock: ManualClock;
  let options: GateOptions;
  beforeEach(async () => {
    const dir = await tempDir();
    remove = dir.remove;
    stores = openSqliteStores(join(dir.dir, 'state.db'));
    clock = new ManualClock();
    options = { clock, pollMs: 200, staleAfterMs: 10_000 };
  });
  afterEach(async () => {
    await stores.close();
    await remove();
  });

  it('alerts a member adopted with a cancel already asked of it at once, not at its first beat', async () => {
    const held = await enterConcurrencyGroup(stores.concurrency, member('a#1'), options);
    if (held.kind !== 'admitted') throw new Error(`expected admitted, got ${held.kind}`);
    held.hold.stop();
    void enterConcurrencyGroup(stores.concurrency, member('b#1', { cancelInProgress: true }), options);
    await clock.advance(0);
    const adopted = await enterConcurrencyGroup(
      stores.concurrency,
      { ...member('a#2'), adopt: 'a#' },
      options,
    );
    if (adopted.kind !== 'admitted') throw new Error(`expected admitted, got ${adopted.kind}`);
    expect(adopted.hold.alerted).toBe(true);
    const alerts: HoldAlert[] = [];
    adopted.hold.onAlert((alert) => alerts.push(alert));
    expect(alerts).toEqual([{ kind: 'cancel-requested' }]);
    await adopted.hold.release();
  });

  it('tells a member whose process was taken over that it lost its slot, not that a newer one cancelled it', async () => {
    const ends: MembershipEnd[] = [];
    let admitted = false;
    new GroupMembership(stores.concurrency, clock, member('a#1'), {
      waiting: () => {},
      admitted: () => {
        admitted = true;
      },
      ended: (why) => ends.push(why),
    });
    await clock.advance(0);
    expect(admitted).toBe(true);
    // Another process adopts the member (renaming it): this one's next beat finds it gone.
    const adopted = await enterConcurrencyGroup(
      stores.concurrency,
      { ...member('a#2'), adopt: 'a#' },
      options,
    );
    if (adopted.kind !== 'admitted') throw new Error(`expected admitted, got ${adopted.kind}`);
    await clock.advance(200);
    expect(ends).toEqual(['lost']);
    await adopted.hold.release();
  });

  it('admits a waiting member within one poll of the holder releasing', async () => {
    const first = await enterConcurrencyGroup(stores.concurrency, member('a'), options);
    if (first.kind !== 'admitted') throw new Error(`expected admitted, got ${first.kind}`);
    const seen: MemberState[] = [];
    const second = enterConcurrencyGroup(stores.concurrency, member('b'), {
      ...options,
      onWaiting: (state) => seen.push(state),
    });
    await clock.advance(1_000);
    expect(seen).toEqual([{ kind: 'pending', ahead: 1 }]);
    await first.hold.release();
    await first.hold.release();
    await clock.advance(200);
    const outcome = await second;
    expect(outcome.kind).toBe('admitted');
    if (outcome.kind === 'admitted') await outcome.hold.release();
    expect(await stores.concurrency.list('deploy')).toEqual([]);
  });

  it('admits a member waiting in the same process as soon as the holder releases, without a beat', async () => {
    const first = await enterConcurrencyGroup(stores.concurrency, member('a'), options);
    if (first.kind !== 'admitted') throw new Error(`expected admitted, got ${first.kind}`);
    const second = enterConcurrencyGroup(stores.concurrency, member('b'), options);
    await clock.advance(400);
    await first.hold.release();
    expect(await orAfter(second, 2_000, 'still waiting')).toMatchObject({ kind: 'admitted' });
    const outcome = await second;
    if (outcome.kind === 'admitted') await outcome.hold.release();
  });

  it('leaves the group when aborted while waiting', async () => {
    await stores.concurrency.join(member('holder'), { now: clock.now(), staleBefore: 0 });
    const abort = new AbortController();
    const waiting = enterConcurrencyGroup(stores.concurrency, member('b'), {
      ...options,
      signal: abort.signal,
    });
    await clock.advance(400);
    abort.abort();
    expect(await waiting).toEqual({ kind: 'aborted' });
    expect((await stores.concurrency.list('deploy')).map((m) => m.memberId)).toEqual(['holder']);
  });

  it('tells the holder once when a newer member asks it to cancel', async () => {
    const first = await enterConcurrencyGroup(stores.concurrency, member('a'), options);
    if (first.kind !== 'admitted') throw new Error(`expected admitted, got ${first.kind}`);
    const alerts: HoldAlert[] = [];
    first.hold.onAlert((alert) => alerts.push(alert));
    await clock.advance(1_000);
    expect(alerts).toEqual([]);
    const second = enterConcurrencyGroup(
      stores.concurrency,
      member('b', { cancelInProgress: true }),
      options,
    );
    await clock.advance(400);
    expect(alerts).toEqual([{ kind: 'cancel-requested' }]);
    expect(first.hold.alerted).toBe(true);
    await clock.advance(400);
    expect(alerts).toHaveLength(1);
    await first.hold.release();
    await clock.advance(200);
    expect((await second).kind).toBe('admitted');
  });

  it('a holder that stopped beating (its process died) frees the slot after the stale interval', async () => {
    await stores.concurrency.join(member('dead'), { now: clock.now(), staleBefore: 0 });
    let admitted = false;
    const waiting = enterConcurrencyGroup(stores.concurrency, member('b'), options).then((outcome) => {
      admitted = outcome.kind === 'admitted';
      return outcome;
    });
    await clock.advance(9_800);
    expect(admitted).toBe(false);
    await clock.advance(600);
    expect(admitted).toBe(true);
    const outcome = await waiting;
    if (outcome.kind === 'admitted') await outcome.hold.release();
  });

  it('a replaced member has left the group when it learns so', async () => {
    await stores.concurrency.join(member('holder'), { now: clock.now(), staleBefore: 0 });
    const second = enterConcurrencyGroup(stores.concurrency, member('b'), options);
    await clock.advance(200);
    await stores.concurrency.join(member('c'), { now: clock.now(), staleBefore: 0 });
    await clock.advance(200);
    expect(await second).toEqual({ kind: 'replaced', by: 'c' });
    expect((await stores.concurrency.list('deploy')).map((m) => m.memberId)).toEqual(['holder', 'c']);
  });
});

describeOnPostgres('enterConcurrencyGroup across two sets of stores on one Postgres schema', () => {
  it('a member waiting in one process starts when the holder in another releases, without a beat', async () => {
    const made = await postgresFactory();
    try {
      const other = await made.openAnother();
      const clock = new ManualClock();
      const options: GateOptions = { clock, pollMs: 200, staleAfterMs: 10_000 };
      const first = await enterConcurrencyGroup(made.stores.concurrency, member('a'), options);
      if (first.kind !== 'admitted') throw new Error(`expected admitted, got ${first.kind}`);
      const seen: MemberState[] = [];
      const second = enterConcurrencyGroup(other.concurrency, member('b'), {
        ...options,
        onWaiting: (state) => seen.push(state),
      });
      // Real I/O: the join's round trips, not the manual clock, decide when it is waiting.
      for (let tries = 0; seen.length === 0 && tries < 200; tries++) await sleep(10);
      expect(seen).toEqual([{ kind: 'pending', ahead: 1 }]);
      await first.hold.release();
      expect(await orAfter(second, 2_000, 'still waiting')).toMatchObject({ kind: 'admitted' });
      const outcome = await second;
      if (outcome.kind === 'admitted') await outcome.hold.release();
    } finally {
      await made.cleanup();
    }
  });
});

describeOnPostgres('GroupMembership.release on Postgres', () => {
  it("settles only once a waiting member's place is gone from the store", async () => {
    const made = await postgresFactory();
    try {
      const clock = new ManualClock();
      const first = await enterConcurrencyGroup(made.stores.concurrency, member('a'), {
        clock,
        pollMs: 200,
        staleAfterMs: 10_000,
      });
      if (first.kind !== 'admitted') throw new Error(`expected admitted, got ${first.kind}`);
      let waiting = false;
      const second = new GroupMembership(made.stores.concurrency, clock, member('b'), {
        waiting: () => {
          waiting = true;
        },
        admitted: () => {},
        ended: () => {},
      });
      for (let tries = 0; !waiting && tries < 200; tries++) await sleep(10);
      expect(waiting).toBe(true);
      // A process closes its stores right after this: the place must be gone by then, not left to
      // the stale sweep (the group's next run waited 10 s for it).
      await second.release();
      expect((await made.stores.concurrency.list('deploy')).map((one) => one.memberId)).toEqual(['a']);
      await first.hold.release();
    } finally {
      await made.cleanup();
    }
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
