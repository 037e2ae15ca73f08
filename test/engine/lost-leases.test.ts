import { describe, expect, it } from 'vitest';
import { LostLeases } from '../../src/engine/lost-leases.js';

describe('LostLeases', () => {
  it('knows every runner that lost a lease on each of the last `capacity` jobs to lose one, and no other', () => {
    const holders = new LostLeases(2);
    holders.add('a', 'r1');
    holders.add('a', 'r2');
    holders.add('b', 'r1');
    expect([holders.lostBy('a', 'r1'), holders.lostBy('a', 'r2'), holders.lostBy('b', 'r1')]).toEqual([
      true,
      true,
      true,
    ]);
    expect([holders.lostBy('b', 'r2'), holders.lostBy('c', 'r1')]).toEqual([false, false]);
    holders.add('c', 'r3');
    // a lost its lease before b: it goes first.
    expect([holders.lostBy('a', 'r1'), holders.lostBy('a', 'r2')]).toEqual([false, false]);
    expect([holders.lostBy('b', 'r1'), holders.lostBy('c', 'r3')]).toEqual([true, true]);
  });

  it('moves a job that loses a lease again to the end, with all its runners; the bound holds over many losses', () => {
    const holders = new LostLeases(2);
    holders.add('a', 'r1');
    holders.add('b', 'r1');
    holders.add('a', 'r2');
    holders.add('c', 'r1');
    expect(holders.lostBy('b', 'r1')).toBe(false);
    expect([holders.lostBy('a', 'r1'), holders.lostBy('a', 'r2'), holders.lostBy('c', 'r1')]).toEqual([
      true,
      true,
      true,
    ]);
    const many = new LostLeases(50);
    for (let i = 0; i < 5_000; i++) many.add(`job-${i % 120}`, `r${i % 7}`);
    const kept = Array.from({ length: 120 }, (_, job) => `job-${job}`).filter((job) =>
      Array.from({ length: 7 }, (_, r) => `r${r}`).some((runner) => many.lostBy(job, runner)),
    );
    // The jobs of the last 50 losses (they cycle through 120 jobs, so 50 distinct ones).
    const last = Array.from({ length: 50 }, (_, k) => `job-${(4_999 - k) % 120}`);
    expect(new Set(kept)).toEqual(new Set(last));
  });
});
