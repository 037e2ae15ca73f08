import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BundleFetchTouches } from '../../src/server/bundle-fetch-touches.js';
import type { BundleStore } from '../../src/store/bundles.js';
import { ManualClock } from '../core/manual-clock.js';

/** A store that only counts touches, answering `stored` for each. */
function countingStore(stored: (sha256: string) => boolean): BundleStore & { touches: number } {
  const store = {
    touches: 0,
    has: async () => true,
    put: async () => 'existed' as const,
    async touch(sha256: string) {
      store.touches++;
      await Promise.resolve();
      return stored(sha256);
    },
    read: () => Readable.from([]),
    removeUnused: async () => ({ count: 0, bytes: 0 }),
  };
  return store;
}

const bundle = 'a'.repeat(64);

describe('BundleFetchTouches', () => {
  it('writes one touch for a matrix of concurrent fetches, and one for later ones within the interval', async () => {
    const clock = new ManualClock();
    const store = countingStore(() => true);
    const fetches = new BundleFetchTouches(store, clock, 60_000);
    const answers = await Promise.all(Array.from({ length: 250 }, () => fetches.touch(bundle)));
    expect(answers.every((stored) => stored)).toBe(true);
    await clock.advance(59_999);
    expect(await fetches.touch(bundle)).toBe(true);
    expect(store.touches).toBe(1);
    await clock.advance(1);
    expect(await fetches.touch(bundle)).toBe(true);
    expect(store.touches).toBe(2);
  });

  it('asks again after a touch that found no bundle, and touches each bundle on its own', async () => {
    const clock = new ManualClock();
    let present = false;
    const store = countingStore((sha256) => sha256 !== bundle || present);
    const fetches = new BundleFetchTouches(store, clock, 60_000);
    expect(await fetches.touch(bundle)).toBe(false);
    present = true;
    expect(await fetches.touch(bundle)).toBe(true);
    expect(await fetches.touch('b'.repeat(64))).toBe(true);
    expect(store.touches).toBe(3);
  });

  it('asks again after forgetting a bundle the store removed (found damaged), within the interval', async () => {
    const clock = new ManualClock();
    let present = true;
    const store = countingStore(() => present);
    const fetches = new BundleFetchTouches(store, clock, 60_000);
    expect(await fetches.touch(bundle)).toBe(true);
    present = false;
    fetches.forget(bundle);
    expect(await fetches.touch(bundle)).toBe(false);
    expect(store.touches).toBe(2);
  });

  it('asks again after a touch that failed', async () => {
    const clock = new ManualClock();
    const store = countingStore(() => true);
    const touch = store.touch;
    store.touch = () => Promise.reject(new Error('connection lost'));
    const fetches = new BundleFetchTouches(store, clock, 60_000);
    await expect(fetches.touch(bundle)).rejects.toThrow('connection lost');
    store.touch = touch;
    expect(await fetches.touch(bundle)).toBe(true);
    expect(store.touches).toBe(1);
  });
});
