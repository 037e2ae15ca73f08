import { describe, expect, it } from 'vitest';
import { lastDotOf, runIdOfJob } from '../../src/core/ids.js';

describe('job ids', () => {
  it('finds the last dot as lastIndexOf does', () => {
    for (const text of ['12.3', '1.250', 'a.b.c', '.5', '7.', 'no-dot', '', '..', 'x'])
      expect(lastDotOf(text), text).toBe(text.lastIndexOf('.'));
  });

  it('names the run before the last dot, and none without a run before it', () => {
    expect(runIdOfJob('12.3')).toBe('12');
    expect(runIdOfJob('a.b.250')).toBe('a.b');
    expect(runIdOfJob('.5')).toBeUndefined();
    expect(runIdOfJob('no-dot')).toBeUndefined();
    expect(runIdOfJob('')).toBeUndefined();
  });
});
