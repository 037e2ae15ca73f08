import { describe, expect, it } from 'vitest';
import { RecentLeaseHolders } from '../../src/engine/recent-lease-holders.js';

describe('RecentLeaseHolders', () => {
  it('knows every runner granted a lease on each of the last `capacity` jobs leased, and no other', () => {
    const holders = new RecentLeaseHolders(2);
    holders.add('a', 'r1');
    holders.add('a', 'r2');
    holders.add('b', 'r1');
    expect([holders.held('a', 'r1'), holders.held('a', 'r2'), holders.held('b', 'r1')]).toEqual([
      true,
      true,
      true,
    ]);
    expect([holders.held('b', 'r2'), holders.held('c', 'r1')]).toEqual([false, false]);
    holders.add('c', 'r3');
    // a was leased before b: it goes first.
    expect([holders.held('a', 'r1'), holders.held('a', 'r2')]).toEqual([false, false]);
    expect([holders.held('b', 'r1'), holders.held('c', 'r3')]).toEqual([true, true]);
  });

  it('moves a job leased again to the end, with all its holders; the bound holds over many grants', () => {
    const holders = new RecentLeaseHolders(2);
    holders.add('a', 'r1');
    holders.add('b', 'r1');
    holders.add('a', 'r2');
    holders.add('c', 'r1');
    expect(holders.held('b', 'r1')).toBe(false);
    expect([holders.held('a', 'r1'), holders.held('a', 'r2'), holders.held('c', 'r1')]).toEqual([
      true,
      true,
      true,
    ]);
    const many = new RecentLeaseHolders(50);
    for (let i = 0; i < 5_000; i++) many.add(`job-${i % 120}`, `r${i % 7}`);
    const kept = Array.from({ length: 120 }, (_, job) => `job-${job}`).filter((job) =>
      Array.from({ length: 7 }, (_, r) => `r${r}`).some((runner) => many.held(job, runner)),
    );
    // The jobs of the last 50 grants (the grants cycle through 120 jobs, so 50 distinct ones).
    const last = Array.from({ length: 50 }, (_, k) => `job-${(4_999 - k) % 120}`);
    expect(new Set(kept)).toEqual(new Set(last));
  });
});
