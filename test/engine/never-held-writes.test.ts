import { describe, expect, it } from 'vitest';
import { type NeverHeldReport, NeverHeldWrites } from '../../src/engine/never-held-writes.js';

const limits = { runners: 2, windowMs: 1_000, closeAfter: 3, reportEveryMs: 100 };

describe('NeverHeldWrites', () => {
  it('closes a runner at the bound until its window ends, then counts afresh', () => {
    const tally = new NeverHeldWrites(limits, () => {});
    expect([0, 1, 2, 3].map((at) => tally.count('r', 'j', at).close)).toEqual([false, false, true, true]);
    expect(tally.count('other', 'j', 4)).toEqual({ inWindow: 1, close: false });
    expect(tally.count('r', 'j', 999).close).toBe(true);
    expect(tally.count('r', 'j', 1_000)).toEqual({ inWindow: 1, close: false });
  });

  it('reports each runner at most once per reportEveryMs, with the count since its last report', () => {
    const reports: NeverHeldReport[] = [];
    const tally = new NeverHeldWrites(limits, (report) => reports.push(report));
    for (const at of [0, 10, 50, 99, 100, 150, 1_500]) tally.count('r', `job-${at}`, at);
    expect(reports).toEqual([
      { runnerId: 'r', count: 1, lastJobId: 'job-0' },
      { runnerId: 'r', count: 4, lastJobId: 'job-100' },
      { runnerId: 'r', count: 2, lastJobId: 'job-1500' },
    ]);
  });

  it('keeps the tallies of the last `runners` runners only', () => {
    const tally = new NeverHeldWrites(limits, () => {});
    tally.count('a', 'j', 0);
    tally.count('a', 'j', 1);
    tally.count('b', 'j', 2);
    tally.count('c', 'j', 3);
    // a's tally was the oldest: forgotten, it starts again at 1; c's, among the last two, is kept.
    expect(tally.count('a', 'j', 4).inWindow).toBe(1);
    expect(tally.count('c', 'j', 5).inWindow).toBe(2);
  });
});
