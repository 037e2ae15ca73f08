import { describe, expect, it } from 'vitest';
import { RecentEntries } from '../../src/engine/recent-entries.js';

/** As the lease guard keeps completions: each job's last fencing token, which is its own stamp. */
const recentTokens = (capacity: number) => new RecentEntries<number>(capacity, (token) => token);

describe('RecentEntries', () => {
  it('remembers the token of each of the last `capacity` jobs to complete', () => {
    const recent = recentTokens(3);
    for (const [job, token] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const)
      recent.set(job, token);
    expect([recent.get('a'), recent.get('b'), recent.get('c')]).toEqual([1, 2, 3]);
    recent.set('d', 4);
    expect(recent.get('a')).toBeUndefined();
    expect([recent.get('b'), recent.get('c'), recent.get('d')]).toEqual([2, 3, 4]);
  });

  it('counts a job that completes again as its latest completion, with its new token', () => {
    const recent = recentTokens(3);
    recent.set('a', 1);
    recent.set('b', 2);
    recent.set('c', 3);
    recent.set('a', 4);
    recent.set('d', 5);
    // b is now the oldest: a moved to the end when it completed again.
    expect(recent.get('b')).toBeUndefined();
    expect([recent.get('a'), recent.get('c'), recent.get('d')]).toEqual([4, 3, 5]);
    recent.set('e', 6);
    expect(recent.get('c')).toBeUndefined();
    expect(recent.get('a')).toBe(4);
  });

  it('keeps the bound and the order over many completions, repeated jobs among them', () => {
    const capacity = 50;
    const recent = recentTokens(capacity);
    // The reference: a Map in completion order, as the lease guard kept it before.
    const reference = new Map<string, number>();
    let token = 0;
    for (let i = 0; i < 5_000; i++) {
      const job = `job-${(i * 7919) % (i % 3 === 0 ? 40 : 400)}`;
      token++;
      recent.set(job, token);
      reference.delete(job);
      reference.set(job, token);
      if (reference.size > capacity) {
        const oldest = reference.keys().next();
        if (oldest.done !== true) reference.delete(oldest.value);
      }
    }
    for (let j = 0; j < 400; j++) expect(recent.get(`job-${j}`)).toBe(reference.get(`job-${j}`));
  });
});
