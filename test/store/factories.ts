import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import type { StoresFactory } from './fixture.js';
import { postgresFactory, postgresSkipReason } from './postgres-server.js';

/** A temp directory for one test, removed by the returned function. */
export async function tempDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'valkyrie-store-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

const sqlite: StoresFactory = async (options = {}) => {
  const { dir, remove } = await tempDir();
  // A nested path, so every test also covers creating the parent directory.
  const path = join(dir, '.valkyrie', 'state.db');
  const stores = openSqliteStores(path, options);
  const others: Stores[] = [];
  return {
    stores,
    async cleanup() {
      for (const other of others) await other.close();
      await stores.close();
      await remove();
    },
    async openAnother(anotherOptions = {}) {
      const other = openSqliteStores(path, anotherOptions);
      others.push(other);
      return other;
    },
  };
};

/**
 * Every implementation of the store contracts; each runs the same conformance suites. An entry with a
 * skip reason has no server to run on here, and its suites must be skipped (`describe.skipIf(skip)`).
 */
export const storeFactories: ReadonlyArray<readonly [name: string, make: StoresFactory, skip?: string]> = [
  ['sqlite', sqlite],
  ['postgres', postgresFactory, postgresSkipReason],
];
