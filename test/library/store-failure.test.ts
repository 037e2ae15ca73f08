import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { ValkyrieError } from '../../src/core/errors.js';
import { TakeRetry } from '../../src/library/take-retry.js';
import { WorkWaiter } from '../../src/library/work-waiter.js';
import type { QueueStore } from '../../src/store/queue.js';
import { openOn } from './durable-stores.js';
import { afterTest, fixture, until } from './helpers.js';

it('an engine whose claim fails (the SQLite file locked by another process) warns, claims again, and runs the job', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'valkyrie-locked-'));
  afterTest(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'jobs.db');
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  afterTest(async () => process.off('warning', onWarning));
  const producer = await openOn({ kind: 'sqlite', path }, { runJobs: false, pool: undefined });
  const worker = await openOn({ kind: 'sqlite', path, busyTimeoutMs: 50 });
  worker.task('echo', { module: fixture() });
  const job = producer.enqueue<string, string>('echo', 'after the lock', { delayMs: 300 });
  await until(() => job.storeId !== undefined, 'the job to be stored');

  // Another process holds the write lock past the worker's busy timeout when the job falls due.
  const other = new Database(path);
  other.exec('BEGIN EXCLUSIVE');
  await until(() => warnings.some((warning) => warning.name === 'ValkyrieStoreWarning'), 'a store warning');
  other.exec('COMMIT');
  other.close();

  expect(await job.result).toEqual({ kind: 'succeeded', output: 'after the lock', attempts: 1 });
  const warning = warnings.find((w) => w.name === 'ValkyrieStoreWarning');
  expect(warning?.message).toMatch(
    /^the engine could not claim jobs from its store \(VK_STORE_LOCKED: could not claim queue jobs: .*\); it claims again in (\d{3}ms|1s)$/,
  );
});

it('a WorkWaiter whose wait fails (the store away) wakes the engine to claim again, after a pause', async () => {
  let waits = 0;
  const store = {
    waitForWork: () => {
      waits++;
      return Promise.reject(new Error('connection lost'));
    },
  } as unknown as QueueStore;
  const stop = new AbortController();
  afterTest(async () => stop.abort());
  let woken = 0;
  const waiter = new WorkWaiter(store, stop.signal, () => woken++, 50);
  waiter.claimed(0, 1);
  await until(() => woken === 1, 'the engine to be woken');
  expect(waits).toBe(1);
});

it('claims again after a jittered pause whose ceiling doubles with each store failure in a row, up to its bound, and resets', async () => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => {
    if (warning.name === 'ValkyrieStoreWarning') warnings.push(warning.message.replace(/.*\); /, ''));
  };
  process.on('warning', onWarning);
  afterTest(async () => process.off('warning', onWarning));
  let pumps = 0;
  // random() = 1: each pause is its ceiling (half of it is fixed, half jitter; protocol/backoff.ts).
  const retry = new TakeRetry(
    () => pumps++,
    { baseMs: 10, capMs: 40 },
    () => 1,
  );
  const down = new ValkyrieError('VK_STORE_UNREACHABLE', 'could not connect to Postgres');
  for (const _ of [1, 2, 3, 4]) retry.failed(down);
  retry.succeeded();
  retry.failed(down);
  await until(() => warnings.length === 5 && pumps === 5, 'five warnings and five pumps');
  expect(warnings).toEqual([
    'it claims again in 10ms',
    'it claims again in 20ms',
    'it claims again in 40ms',
    'it claims again in 40ms',
    'it claims again in 10ms',
  ]);
});

it('a WorkWaiter backs off between waits that end at once, not after waits that lasted (an idle poll)', async () => {
  const waitMs = 120;
  const gaps: number[] = [];
  let lastEnd: number | undefined;
  let waitsEndAtOnce = true;
  const store = {
    waitForWork: async () => {
      if (lastEnd !== undefined) gaps.push(performance.now() - lastEnd);
      await new Promise((resolve) => setTimeout(resolve, waitsEndAtOnce ? 0 : waitMs));
      lastEnd = performance.now();
    },
  } as unknown as QueueStore;
  const stop = new AbortController();
  afterTest(async () => stop.abort());
  let woken = 0;
  // Each wake-up's claim finds nothing (jobs of tasks this engine does not run).
  const onReady = () => {
    woken++;
    waiter.claimed(0, 1);
  };
  const waiter = new WorkWaiter(store, stop.signal, onReady, 50, 200);
  waiter.claimed(0, 1);
  await until(() => woken >= 10, 'ten wake-ups');
  // Waits that end at once: the pause before the next grows to its longest, 200 ms.
  expect(Math.max(...gaps)).toBeGreaterThanOrEqual(150);
  waitsEndAtOnce = false;
  await until(() => woken >= 12, 'two wake-ups by a poll');
  gaps.length = 0;
  await until(() => woken >= 18, 'six wake-ups by a poll');
  expect(Math.max(...gaps), `gaps ${gaps.map(Math.round).join(', ')} ms`).toBeLessThan(60);
});
