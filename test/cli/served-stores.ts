import { vi } from 'vitest';
import { ValkyrieServer } from '../../src/server/server.js';
import type { Stores } from '../../src/store/store.js';

export interface ServedStores {
  server: ValkyrieServer;
  /** Every URL the code under test fetched, in order. */
  requests: URL[];
}

/**
 * Serves `stores` on a loopback port and records the URLs `fetch` is called with, so a test can
 * check both what a `--server` command printed and what it asked the API for.
 * The caller's `afterEach` must run `vi.restoreAllMocks()` and the cleanup this pushes.
 */
export async function serveAndRecordFetches(
  stores: Stores,
  dataDir: string,
  adminToken: string,
  cleanups: (() => Promise<void>)[],
): Promise<ServedStores> {
  const server = await ValkyrieServer.start({ stores, host: '127.0.0.1', port: 0, dataDir, adminToken });
  cleanups.push(async () => {
    await server.destroy();
  });
  const requests: URL[] = [];
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
    requests.push(new URL(String(input)));
    return realFetch(input, init);
  });
  return { server, requests };
}
