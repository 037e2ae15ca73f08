import { describe, expect, it } from 'vitest';
import { parseDuration, parseRetention } from '../../src/core/duration.js';
import { queueKey } from '../../src/core/priority.js';

describe('queueKey', () => {
  const agingIntervalMs = 60_000;

  it('orders by priority, then by arrival', () => {
    const high = queueKey({ priority: 'high', readyAt: 1_000, agingIntervalMs });
    const normalEarlier = queueKey({ priority: 'normal', readyAt: 0, agingIntervalMs });
    const normalLater = queueKey({ priority: 'normal', readyAt: 500, agingIntervalMs });
    expect(high).toBeLessThan(normalEarlier);
    expect(normalEarlier).toBeLessThan(normalLater);
  });

  it('lets a waiting job rank one level higher per interval', () => {
    const background = queueKey({ priority: 'background', readyAt: 0, agingIntervalMs });
    const criticalAfterFour = queueKey({
      priority: 'critical',
      readyAt: 4 * agingIntervalMs,
      agingIntervalMs,
    });
    expect(background).toBe(criticalAfterFour);
  });

  it('starts a delayed job aging when it becomes ready', () => {
    expect(queueKey({ priority: 'normal', readyAt: 0, notBefore: 5_000, agingIntervalMs })).toBe(
      5_000 + 2 * agingIntervalMs,
    );
  });
});

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['2s', 2_000],
    ['1.5s', 1_500],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['3', 3_000],
    [4, 4_000],
  ] as const)('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'soon', '-1s', '2 days', '1d'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('takes a number of seconds to whole milliseconds, as the text forms are', () => {
    expect(parseDuration(0.1234567)).toBe(123);
    expect(parseDuration(1.5)).toBe(1_500);
    expect(parseDuration('0.0015')).toBe(2);
  });

  it('rejects negative and non-finite numbers', () => {
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe('parseRetention', () => {
  it.each([
    ['7d', 7 * 86_400_000],
    ['1.5d', 36 * 3_600_000],
    [' 30 d ', 30 * 86_400_000],
    ['12h', 43_200_000],
    ['90m', 5_400_000],
    ['45', 45_000],
  ] as const)('%s is %d ms', (text, ms) => {
    expect(parseRetention(text)).toBe(ms);
  });

  it.each(['', 'a week', '-1d', '2 days', '1w'])('rejects %j', (text) => {
    expect(parseRetention(text)).toBeUndefined();
  });
});
