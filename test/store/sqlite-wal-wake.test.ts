import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';

// Two connections to one file stand for two processes: PRAGMA data_version, by which the watch tells
// another connection's commits from its own, is per connection. The poll is made an hour long, so
// that a wait that ends was woken by the watch.
const pollIntervalMs = 3_600_000;
const opened: Stores[] = [];
let dir: string | undefined;
afterEach(async () => {
  await Promise.all(opened.splice(0).map((stores) => stores.close()));
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

function twoConnections(): [Stores, Stores] {
  dir = mkdtempSync(join(tmpdir(), 'valkyrie-wal-wake-'));
  const path = join(dir, 'state.db');
  const stores: [Stores, Stores] = [
    openSqliteStores(path, { queue: { pollIntervalMs } }),
    openSqliteStores(path, { queue: { pollIntervalMs } }),
  ];
  opened.push(...stores);
  return stores;
}

/** Whether `wait` ended within `ms`. */
async function endsWithin(wait: Promise<void>, ms: number): Promise<boolean> {
  return await Promise.race([wait.then(() => true), sleep(ms).then(() => false)]);
}

describe("the SQLite queue store's watch of its file", () => {
  it('wakes a waiter when another connection enqueues a job that is ready, not at the next poll', async () => {
    const [waiting, other] = twoConnections();
    const abort = new AbortController();
    const wait = waiting.queue.waitForWork(abort.signal);
    await sleep(100);
    await other.queue.enqueue([{ task: 't', payload: 1 }]);
    expect(await endsWithin(wait, 2_000)).toBe(true);
  });

  it("lets a waiter sleep through another connection's commits that ready no job", async () => {
    const [waiting, other] = twoConnections();
    const abort = new AbortController();
    const wait = waiting.queue.waitForWork(abort.signal);
    await sleep(100);
    // A delayed job: ready only in an hour, so no worker could take it now.
    await other.queue.enqueue([{ task: 't', payload: 1, notBefore: Date.now() + 3_600_000 }]);
    expect(await endsWithin(wait, 500)).toBe(false);
    abort.abort();
    await wait;
  });
});
