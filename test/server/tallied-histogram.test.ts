import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { TalliedHistogram } from '../../src/server/tallied-histogram.js';

const buckets = [0.01, 0.05, 0.25, 1, 5];
const observations: [string, number][] = [
  ['succeeded', 0.004],
  ['failed', 0.05],
  ['succeeded', 0.05],
  ['succeeded', 7],
  ['cancelled', 1],
  ['succeeded', 0.3],
  ['failed', 0],
];

/** The scrape text and the JSON of a registry holding only `histogram`. */
async function scraped(register: (registers: Registry[]) => void): Promise<[string, unknown]> {
  const registry = new Registry();
  register([registry]);
  return [await registry.metrics(), await registry.getMetricsAsJSON()];
}

describe('TalliedHistogram', () => {
  it('is scraped as prom-client`s Histogram with one label is, for the same observations', async () => {
    const expected = await scraped((registers) => {
      const histogram = new Histogram({ name: 'h', help: 'x', labelNames: ['status'], buckets, registers });
      for (const [status, value] of observations) histogram.observe({ status }, value);
    });
    const tallied = await scraped((registers) => {
      const histogram = new TalliedHistogram({
        name: 'h',
        help: 'x',
        labelNames: ['status'],
        buckets,
        registers,
      });
      for (const [status, value] of observations) histogram.tally(status, value);
    });
    expect(tallied[0]).toBe(expected[0]);
    expect(tallied[0]).toContain('h_bucket{le="0.05",status="failed"} 2');
    expect(JSON.parse(JSON.stringify(tallied[1]))).toEqual(JSON.parse(JSON.stringify(expected[1])));
  });

  it('is scraped as prom-client`s Histogram without labels is, observed or not, and after a reset', async () => {
    for (const values of [[], observations.map(([, value]) => value)]) {
      const expected = await scraped((registers) => {
        const histogram = new Histogram({ name: 'w', help: 'x', buckets, registers });
        for (const value of values) histogram.observe(value);
      });
      const tallied = await scraped((registers) => {
        const histogram = new TalliedHistogram({ name: 'w', help: 'x', buckets, registers });
        for (const value of values) histogram.tally('', value);
      });
      expect(tallied[0]).toBe(expected[0]);
    }
    const registry = new Registry();
    const histogram = new TalliedHistogram({ name: 'w', help: 'x', buckets, registers: [registry] });
    histogram.tally('', 2);
    histogram.reset();
    expect(await registry.metrics()).toContain('w_count 0');
  });

  it('refuses a value that is not a finite number, as prom-client does', () => {
    const histogram = new TalliedHistogram({ name: 'n', help: 'x', buckets, registers: [] });
    expect(() => histogram.tally('', Number.NaN)).toThrow(TypeError);
  });
});
