import { afterEach, expect, it } from 'vitest';
import { type Engine, type EngineEvent, openEngine } from '../../src/index.js';
import { fixture } from './helpers.js';

const open: Engine[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((engine) => engine.destroy()));
});

it("tells the pool's scaling through Engine.onEvent: up to maxThreads on load, down to minThreads when idle", async () => {
  // Through the package's entry point, as a user opens it; one task per worker, so six jobs need more.
  const engine = await openEngine({
    pool: { minThreads: 1, maxThreads: 3, concurrentTasksPerWorker: 1, idleTimeoutMs: 50 },
  });
  open.push(engine);
  const scaled: Extract<EngineEvent, { type: 'pool.scaled' }>[] = [];
  const retired = new Promise<void>((resolve) => {
    engine.onEvent((event) => {
      if (event.type !== 'pool.scaled') return;
      scaled.push(event);
      if (event.reason === 'idle' && event.threads === 1) resolve();
    });
  });
  const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
  const results = await Promise.all(Array.from({ length: 6 }, () => engine.enqueue(sleep, 100).result));
  expect(results.every((result) => result.kind === 'succeeded')).toBe(true);
  const up = scaled.filter((event) => event.reason === 'demand');
  expect(up.at(-1)).toEqual({
    type: 'pool.scaled',
    threads: 3,
    previous: expect.any(Number),
    reason: 'demand',
  });
  await retired;
  const down = scaled.filter((event) => event.reason === 'idle');
  expect(down.at(-1)).toEqual({
    type: 'pool.scaled',
    threads: 1,
    previous: expect.any(Number),
    reason: 'idle',
  });
  // Every change is told with the count it changed from, so a listener can follow the pool's size.
  let threads = 1;
  for (const event of scaled) {
    expect(event.previous).toBe(threads);
    threads = event.threads;
  }
});
