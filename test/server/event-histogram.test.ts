import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { EventHistogram } from '../../src/server/event-histogram.js';

const buckets = [0.01, 0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600, 14_400];
/** Bounds, between them, above the last, zero and a value with a long fraction. */
const values = [0, 0.01, 0.010001, 0.3, 1, 4.999, 59.5, 3600, 14_400, 14_400.5, 1e9, 1 / 3];

async function texts(labelName: string | undefined) {
  const ours = new Registry();
  const theirs = new Registry();
  const event = new EventHistogram('vk_test_seconds', 'A test histogram', buckets, labelName, [ours]);
  const reference = new Histogram({
    name: 'vk_test_seconds',
    help: 'A test histogram',
    buckets,
    registers: [theirs],
    ...(labelName === undefined ? {} : { labelNames: [labelName] }),
  });
  const read = async () => [await ours.metrics(), await theirs.metrics()];
  const before = await read();
  values.forEach((value, i) => {
    const status = ['succeeded', 'failed', 'can"cel\\led'][i % 3] ?? '';
    event.observe(value, status);
    if (labelName === undefined) reference.observe(value);
    else reference.observe({ [labelName]: status }, value);
  });
  const after = await read();
  ours.resetMetrics();
  theirs.resetMetrics();
  return { before, after, reset: await read() };
}

describe('EventHistogram', () => {
  it.each([
    ['labelled', 'status'],
    ['unlabelled', undefined],
  ])('prints what a prom-client Histogram fed the same values prints (%s)', async (_, labelName) => {
    const { before, after, reset } = await texts(labelName);
    expect(after[0]).toContain('vk_test_seconds_bucket');
    expect(before[0]).toBe(before[1]);
    expect(after[0]).toBe(after[1]);
    expect(reset[0]).toBe(reset[1]);
  });

  it('refuses a value that is not a finite number, as prom-client does', () => {
    const histogram = new EventHistogram('vk_test_seconds', 'A test histogram', buckets);
    expect(() => histogram.observe(Number.NaN)).toThrow(TypeError);
  });
});
