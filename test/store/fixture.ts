import { afterEach, beforeEach } from 'vitest';
import type { QueueOptions } from '../../src/store/queue.js';
import type { Stores } from '../../src/store/store.js';

export interface OpenedStores {
  readonly stores: Stores;
  /** Another handle on the same store, as a second process would open it; closed by `cleanup`. */
  openAnother(options?: StoreTestOptions): Promise<Stores>;
  cleanup(): Promise<void>;
}

export interface StoreTestOptions {
  readonly queue?: QueueOptions;
}

/** A fresh, empty set of stores per test; `cleanup` closes them and removes whatever backs them. */
export type StoresFactory = (options?: StoreTestOptions) => Promise<OpenedStores>;

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
      if (current === undefined) throw new Error('stores are only open inside a test');
      return current.openAnother();
    },
  });
}
