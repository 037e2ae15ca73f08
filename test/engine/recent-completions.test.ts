import { describe, expect, it } from 'vitest';
import { RecentCompletions } from '../../src/engine/recent-completions.js';

describe('RecentCompletions', () => {
  it('remembers the token of each of the last `capacity` jobs to complete', () => {
    const recent = new RecentCompletions(3);
    for (const [job, token] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const)
      recent.add(job, token);
    expect([recent.get('a'), recent.get('b'), recent.get('c')]).toEqual([1, 2, 3]);
    recent.add('d', 4);
    expect(recent.get('a')).toBeUndefined();
    expect([recent.get('b'), recent.get('c'), recent.get('d')]).toEqual([2, 3, 4]);
  });

  it('counts a job that completes again as its latest completion, with its new token', () => {
    const recent = new RecentCompletions(3);
    recent.add('a', 1);
    recent.add('b', 2);
    recent.add('c', 3);
    recent.add('a', 4);
    recent.add('d', 5);
    // b is now the oldest: a moved to the end when it completed again.
    expect(recent.get('b')).toBeUndefined();
    expect([recent.get('a'), recent.get('c'), recent.get('d')]).toEqual([4, 3, 5]);
    recent.add('e', 6);
    expect(recent.get('c')).toBeUndefined();
    expect(recent.get('a')).toBe(4);
  });

  it('keeps the bound and the order over many completions, repeated jobs among them', () => {
    const capacity = 50;
    const recent = new RecentCompletions(capacity);
    // The reference: a Map in completion order, as the lease guard kept it before.
    const reference = new Map<string, number>();
    let token = 0;
    for (let i = 0; i < 5_000; i++) {
      const job = `job-${(i * 7919) % (i % 3 === 0 ? 40 : 400)}`;
      token++;
      recent.add(job, token);
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
