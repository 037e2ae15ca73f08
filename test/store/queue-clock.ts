import { afterEach } from 'vitest';
import type { Clock, QueueOptions, QueueStore } from '../../src/store/queue.js';
import type { OpenedStores, StoresFactory } from './fixture.js';

/** The queue's clock for store tests: it moves only when told to, at once (no timers to fire). */
export class ManualClock implements Clock {
  constructor(private at = 1_700_000_000_000) {}
  now(): number {
    return this.at;
  }
  advance(ms: number): void {
    this.at += ms;
  }
}

/**
 * For a contract's tests: opens a store of `make` on a fresh ManualClock (closed after each test)
 * and answers its queue and the clock.
 */
export function queueOnManualClock(
  make: StoresFactory,
): (options?: QueueOptions) => Promise<{ queue: QueueStore; clock: ManualClock }> {
  let opened: OpenedStores | undefined;
  afterEach(async () => {
    await opened?.cleanup();
    opened = undefined;
  });
  return async (options = {}) => {
    const clock = new ManualClock();
    opened = await make({ queue: { clock, ...options } });
    return { queue: opened.stores.queue, clock };
  };
}
