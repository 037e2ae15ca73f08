import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../src/library/events.js';
import { fixture, openTestEngine } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const jobs = 20_000;

/** Heap bytes per item that `make` keeps alive, measured after full collections. */
function retainedPerItem(make: (count: number) => unknown): number {
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept = make(jobs);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  expect(kept).toBeDefined();
  return (after - before) / jobs;
}

describe('the memory a queued job keeps alive', () => {
  // Every unsettled job is copied by each young-generation GC while it waits: at 20,000 jobs in
  // flight, GC was ~40% of the main thread, so a queued job's bytes are its throughput.
  it('is little more than its result promise and the caller’s then, which it cannot avoid', async () => {
    const { engine } = await openTestEngine();
    const task = engine.task('echo', { module: fixture() });
    const heard = (_outcome: JobOutcome) => undefined;
    // What any caller pays for awaiting a promise per job: the promise, its resolve function, and
    // the `then` on it. Measured here, on this V8, rather than assumed.
    const floor = retainedPerItem((count) =>
      Array.from({ length: count }, () => {
        let resolve: ((outcome: JobOutcome) => void) | undefined;
        const promise = new Promise<JobOutcome>((settle) => {
          resolve = settle;
        });
        promise.then(heard);
        return { promise, resolve };
      }),
    );
    const requests = Array.from({ length: jobs }, (_, i) => ({ task, input: i }));
    const perJob = retainedPerItem(() => {
      // Synchronously: nothing is handed to the pool before the measurement, every job is queued.
      const handles = engine.enqueueMany(requests);
      for (const handle of handles) handle.result.then(heard);
      return handles;
    });
    expect(engine.stats().queued).toBe(jobs);
    // The job's own share (its record and its place in the queue) within 14 pointer-sized words;
    // measured on Node 20: ~93 B; ~130 B while notBefore was a number box and the record had three
    // fields for its task's handles and its listener and two for its store id and lease; ~230 B
    // before the record became its own handle (a handle object, an id string, four more fields).
    expect(perJob - floor).toBeLessThanOrEqual(14 * 8);
    await engine.close();
  });
});
