import { describe, expect, it } from 'vitest';
import { type Lease, LeaseSweeper, LeaseTable } from '../../src/engine/leases.js';
import { ManualClock } from '../core/manual-clock.js';

describe('LeaseTable', () => {
  it('gives every grant a larger fencing token, and a new grant makes the old token stale', () => {
    const clock = new ManualClock();
    const table = new LeaseTable<string>(clock);
    const first = table.grant('job', 'r1', 1000);
    const other = table.grant('other', 'r1', 1000);
    const second = table.grant('job', 'r2', 1000);
    expect(other.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(second.fencingToken).toBeGreaterThan(other.fencingToken);
    expect(table.check('job', first.fencingToken, 'r1')).toEqual({ kind: 'stale', current: second });
    expect(table.check('job', second.fencingToken, 'r2')).toEqual({ kind: 'current', lease: second });
    // The right token from the wrong holder is stale too.
    expect(table.check('job', second.fencingToken, 'r1').kind).toBe('stale');
  });

  it('gives a table made later, as a restarted or another control plane makes it, larger tokens than every earlier one', async () => {
    const clock = new ManualClock();
    const before = new LeaseTable<string>(clock);
    const old = [before.grant('job', 'r1', 1000), before.grant('other', 'r1', 1000)];
    // A burst of grants within one millisecond still gets growing tokens.
    for (let i = 0; i < 500; i++) old.push(before.grant(`burst ${i}`, 'r1', 1000));
    await clock.advance(1);
    const after = new LeaseTable<string>(clock);
    const next = after.grant('job', 'r2', 1000);
    expect(next.fencingToken).toBeGreaterThan(Math.max(...old.map((lease) => lease.fencingToken)));
    expect(Number.isSafeInteger(next.fencingToken)).toBe(true);
    expect(after.grant('job', 'r2', 1000).fencingToken).toBeGreaterThan(next.fencingToken);
  });

  it('extends a current lease by its TTL from now, and ignores a stale renewal', async () => {
    const clock = new ManualClock(0);
    const table = new LeaseTable<string>(clock);
    const lease = table.grant('job', 'r1', 1000);
    await clock.advance(400);
    expect(table.renew('job', lease.fencingToken, 'r1').kind).toBe('current');
    expect(lease.expiresAt).toBe(1400);
    expect(table.renew('job', lease.fencingToken + 1, 'r1').kind).toBe('stale');
    expect(lease.expiresAt).toBe(1400);
  });

  it('releases only the lease it is given', () => {
    const table = new LeaseTable<string>(new ManualClock());
    const old = table.grant('job', 'r1', 1000);
    const current = table.grant('job', 'r2', 1000);
    table.release(old);
    expect(table.get('job')).toBe(current);
    table.release(current);
    table.release(current);
    expect(table.get('job')).toBeUndefined();
    expect(table.check('job', current.fencingToken, 'r2')).toEqual({ kind: 'stale', current: undefined });
  });
});

describe('LeaseSweeper', () => {
  function setup() {
    const clock = new ManualClock(0);
    const table = new LeaseTable<string>(clock);
    const expired: Lease<string>[] = [];
    const sweeper = new LeaseSweeper(table, clock, (lease) => expired.push(lease));
    return { clock, table, expired, sweeper };
  }

  it('expires a lease that is not renewed exactly when its TTL runs out, not before', async () => {
    const { clock, table, expired, sweeper } = setup();
    sweeper.watch(table.grant('a', 'r1', 1000));
    await clock.advance(999);
    expect(expired).toEqual([]);
    await clock.advance(1);
    expect(expired.map((lease) => lease.jobId)).toEqual(['a']);
    expect(table.get('a')).toBeUndefined();
  });

  it('keeps a lease renewed at a third of its TTL alive indefinitely', async () => {
    const { clock, table, expired, sweeper } = setup();
    const lease = table.grant('a', 'r1', 900);
    sweeper.watch(lease);
    for (let i = 0; i < 30; i++) {
      await clock.advance(300);
      table.renew('a', lease.fencingToken, 'r1');
    }
    expect(expired).toEqual([]);
    await clock.advance(900);
    expect(expired).toEqual([lease]);
  });

  it('expires several leases in expiry order, re-arming for a lease granted later with an earlier expiry', async () => {
    const { clock, table, expired, sweeper } = setup();
    sweeper.watch(table.grant('slow', 'r1', 5000));
    sweeper.watch(table.grant('fast', 'r1', 1000));
    sweeper.watch(table.grant('mid', 'r2', 3000));
    await clock.advance(1000);
    expect(expired.map((lease) => lease.jobId)).toEqual(['fast']);
    await clock.advance(4000);
    expect(expired.map((lease) => lease.jobId)).toEqual(['fast', 'mid', 'slow']);
    expect(clock.pending).toBe(0);
  });

  it('stops expiring once closed', async () => {
    const { clock, table, expired, sweeper } = setup();
    sweeper.watch(table.grant('a', 'r1', 1000));
    sweeper.close();
    sweeper.close();
    await clock.advance(5000);
    expect(expired).toEqual([]);
  });

  it('lets renewals that waited be read before a late sweep expires their leases, once', () => {
    // A process that did not run for a while (SIGSTOP) fires its timer late: the renewals sent
    // meanwhile are read only in the turn after it.
    const clock = new LateClock();
    const table = new LeaseTable<string>(clock);
    const expired: string[] = [];
    const sweeper = new LeaseSweeper(table, clock, (lease) => expired.push(lease.jobId));
    const renewed = table.grant('renewed', 'r1', 1000);
    sweeper.watch(renewed);
    sweeper.watch(table.grant('gone', 'r1', 1000));
    clock.time = 1500;
    clock.fireDue();
    expect(expired).toEqual([]);
    table.renew('renewed', renewed.fencingToken, 'r1');
    // The next turn, late again (a loop that stays slow): what is still due expires now.
    clock.time = 1700;
    clock.fireDue();
    expect(expired).toEqual(['gone']);
    expect(table.get('renewed')?.expiresAt).toBe(2500);
  });
});

/** A clock whose timers fire only when told, however late: a process that was not running. */
class LateClock {
  time = 0;
  private timers: { callback: () => void; cancelled: boolean }[] = [];

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void): { cancel(): void } {
    const timer = { callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  fireDue(): void {
    const timers = this.timers.filter((timer) => !timer.cancelled);
    this.timers = [];
    for (const timer of timers) timer.callback();
  }
}
