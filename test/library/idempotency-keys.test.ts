import { describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../src/library/events.js';
import { IdempotencyKeys } from '../../src/library/idempotency-keys.js';
import type { JobHandle } from '../../src/library/job-record.js';
import { ManualClock } from '../core/manual-clock.js';

/** A handle whose result the test settles. */
function handle(): { job: JobHandle; settle: () => void } {
  let settle = () => {};
  const result = new Promise<JobOutcome>((resolve) => {
    settle = () => resolve({ kind: 'succeeded', output: null, attempts: 1 });
  });
  return { job: { id: 'j', result }, settle };
}

const day = 24 * 60 * 60 * 1000;

describe('IdempotencyKeys', () => {
  it('on a durable store, holds a key only until its job has ended (the store answers from then on)', async () => {
    const keys = new IdempotencyKeys(new ManualClock(), true);
    const jobs = Array.from({ length: 1000 }, (_, i) => {
      const added = handle();
      keys.add(`key-${i}`, added.job);
      return added;
    });
    expect(keys.size).toBe(1000);
    expect(keys.find('key-7')).toBe(jobs[7]?.job);
    for (const added of jobs) added.settle();
    await Promise.resolve();
    await Promise.resolve();
    expect(keys.size).toBe(0);
    expect(keys.find('key-7')).toBeUndefined();
  });

  it('in memory, keeps a key for the window and sweeps the expired ones as new keys come', async () => {
    const clock = new ManualClock();
    const keys = new IdempotencyKeys(clock, false);
    for (let i = 0; i < 1000; i++) {
      const added = handle();
      keys.add(`key-${i}`, added.job);
      added.settle();
    }
    await clock.advance(day - 1);
    expect(keys.find('key-999')).toBeDefined();
    expect(keys.size).toBe(1000);
    await clock.advance(1);
    expect(keys.find('key-999')).toBeUndefined();
    keys.add('new', handle().job);
    expect(keys.size).toBe(1);
  });
});
