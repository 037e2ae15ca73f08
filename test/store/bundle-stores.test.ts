import { describe } from 'vitest';
import { FileBundleStore } from '../../src/store/files/bundle-store.js';
import { type BundleStoreFactory, bundleStoreContract } from './bundle-store.contract.js';
import { tempDir } from './factories.js';

const files: BundleStoreFactory = async () => {
  const { dir, remove } = await tempDir();
  return {
    store: new FileBundleStore(dir),
    another: async () => new FileBundleStore(dir),
    cleanup: remove,
  };
};

const factories: ReadonlyArray<readonly [string, BundleStoreFactory, string?]> = [['files', files]];

for (const [name, make, skip] of factories) {
  if (skip !== undefined) console.warn(`${name}: skipping the bundle store conformance suite: ${skip}`);
  describe.skipIf(skip !== undefined)(name, () => bundleStoreContract(make));
}
