import { afterEach, beforeEach } from 'vitest';
import type { Stores } from '../../src/store/store.js';

/** A fresh, empty set of stores per test; `cleanup` closes them and removes whatever backs them. */
export type StoresFactory = () => Promise<{
  stores: Stores;
  cleanup(): Promise<void>;
  /** Another handle on the same store, as a second process would open it; closed by `cleanup`. */
  openAnother?(): Promise<Stores>;
}>;

/** Opens stores before each test and cleans up after it; call the returned function inside a test. */
export function useStores(make: StoresFactory): (() => Stores) & { another(): Promise<Stores> } {
  let current: Awaited<ReturnType<StoresFactory>> | undefined;
  beforeEach(async () => {
    current = await make();
  });
  afterEach(async () => {
    await current?.cleanup();
    current = undefined;
  });
  const get = () => {
    if (current === undefined) throw new Error('stores are only open inside a test');
    return current.stores;
  };
  return Object.assign(get, {
    another: async () => {
      const open = current?.openAnother;
      if (open === undefined) throw new Error('this store has no second handle');
      return open();
    },
  });
}
