import type { ThreadPoolOptions } from '../../../src/executors/thread/config.js';
import type { PoolEvent } from '../../../src/executors/thread/events.js';
import { ThreadPool } from '../../../src/executors/thread/thread-pool.js';
import { helperAfterEach } from '../../helper-hooks.js';

export function fixture(file: string): URL {
  return new URL(`./fixtures/${file}`, import.meta.url);
}

const open: ThreadPool[] = [];
helperAfterEach(async () => {
  await Promise.all(open.splice(0).map((pool) => pool.destroy()));
});

/** A pool destroyed after the test, with every event it emitted. */
export async function openPool(
  options: ThreadPoolOptions,
): Promise<{ pool: ThreadPool; events: PoolEvent[] }> {
  const pool = new ThreadPool(options);
  open.push(pool);
  const events: PoolEvent[] = [];
  pool.onEvent((event) => events.push(event));
  await pool.ready();
  return { pool, events };
}

/** Waits until the pool has `threads` workers, all ready. */
export async function fullStrength(pool: ThreadPool, threads: number): Promise<void> {
  for (;;) {
    await pool.ready();
    if (pool.stats().threads === threads) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function waitForEvent<T extends PoolEvent['type']>(
  pool: ThreadPool,
  type: T,
): Promise<Extract<PoolEvent, { type: T }>> {
  return new Promise((resolve) => {
    const stop = pool.onEvent((event) => {
      if (event.type === type) {
        stop();
        resolve(event as Extract<PoolEvent, { type: T }>);
      }
    });
  });
}
