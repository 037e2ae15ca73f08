import { describe, expect, it } from 'vitest';
import { notBeforeTime, parseNotBefore } from '../../src/core/not-before.js';

describe('parseNotBefore', () => {
  it('reads durations after the run start', () => {
    expect(parseNotBefore('30s')).toEqual({ kind: 'after', ms: 30_000 });
    expect(parseNotBefore('250ms')).toEqual({ kind: 'after', ms: 250 });
    expect(parseNotBefore(2)).toEqual({ kind: 'after', ms: 2000 });
  });

  it('reads ISO 8601 timestamps', () => {
    expect(parseNotBefore('2026-05-01T12:00:00Z')).toEqual({ kind: 'at', at: Date.UTC(2026, 4, 1, 12) });
    expect(parseNotBefore('2026-05-01T12:00:00.500+02:00')).toEqual({
      kind: 'at',
      at: Date.UTC(2026, 4, 1, 10, 0, 0, 500),
    });
    // Without an offset, a date alone as a date with a time, local time (test/e2e/queue.test.ts shows
    // it in a zone other than UTC).
    expect(parseNotBefore('2026-05-01')).toEqual({ kind: 'at', at: new Date(2026, 4, 1).getTime() });
    expect(parseNotBefore('2026-05-01T12:00+05')).toEqual({ kind: 'at', at: Date.UTC(2026, 4, 1, 7) });
  });

  it('refuses anything else', () => {
    for (const value of ['tomorrow', '', '-5s', '2026-13-45T25:00:00Z', '12:00', 'May 1 2026', -1]) {
      expect(parseNotBefore(value)).toBeUndefined();
    }
  });

  it('refuses a day the month does not have, rather than rolling it over into the next month', () => {
    for (const value of ['2026-02-30T00:00:00Z', '2026-02-29', '2026-04-31T12:00:00+02:00', '2026-00-10']) {
      expect(parseNotBefore(value), value).toBeUndefined();
    }
    expect(parseNotBefore('2028-02-29T00:00:00Z')).toEqual({ kind: 'at', at: Date.UTC(2028, 1, 29) });
    expect(parseNotBefore('2026-12-31')).toEqual({ kind: 'at', at: new Date(2026, 11, 31).getTime() });
  });

  it('refuses a delay past 100 years, which no date could hold once added to the run start', () => {
    expect(parseNotBefore('99999999999h')).toBeUndefined();
    expect(parseNotBefore(`${100 * 366 * 24 + 1}h`)).toBeUndefined();
    expect(parseNotBefore(`${100 * 365 * 24}h`)).toEqual({ kind: 'after', ms: 100 * 365 * 24 * 3_600_000 });
  });

  it('resolves against the run start', () => {
    expect(notBeforeTime({ kind: 'after', ms: 30 }, 1000)).toBe(1030);
    expect(notBeforeTime({ kind: 'at', at: 5 }, 1000)).toBe(5);
  });
});
