import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { JobOutcome } from '../../src/library/events.js';
import { fixture, openTestEngine } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const jobs = 20_000;

/**
 * Bytes of live objects after full collections. Code is left out: compiling the code under test is
 * not memory a job keeps alive, and whether a background compile has landed yet is timing.
 */
function liveDataBytes(): number {
  gc();
  gc();
  let bytes = 0;
  for (const space of getHeapSpaceStatistics()) {
    if (!/code|read_only/.test(space.space_name)) bytes += space.space_used_size;
  }
  return bytes;
}

/**
 * Heap bytes per item that a fill keeps alive: the median of three fills after two to warm up, each
 * fill made ready by `setUp` and measured from a fresh baseline. Cold fills pay one-time costs that
 * vary from run to run (feedback, allocation sites deciding where objects go); a single warm fill
 * still varied by a few bytes per item; a lone cold measurement varied by ~20 B per item.
 */
async function retainedPerItem(setUp: () => Promise<() => unknown>): Promise<number> {
  const kept: unknown[] = [];
  const samples: number[] = [];
  for (let fill = 0; fill < 5; fill++) {
    const fillUp = await setUp();
    const before = liveDataBytes();
    kept.push(fillUp());
    if (fill >= 2) samples.push((liveDataBytes() - before) / jobs);
  }
  expect(kept.every((items) => items !== undefined)).toBe(true);
  return samples.sort((a, b) => a - b)[1] ?? Number.NaN;
}

describe('the memory a queued job keeps alive', () => {
  // Every unsettled job is copied by each young-generation GC while it waits: at 20,000 jobs in
  // flight, GC was ~40% of the main thread, so a queued job's bytes are its throughput.
  it('is little more than its result promise and the caller’s then, which it cannot avoid', async () => {
    const heard = (_outcome: JobOutcome) => undefined;
    // What any caller pays for awaiting a promise per job: the promise, its resolve function, and
    // the `then` on it. Measured here, on this V8, rather than assumed.
    const floor = await retainedPerItem(
      async () => () =>
        Array.from({ length: jobs }, () => {
          let resolve: ((outcome: JobOutcome) => void) | undefined;
          const promise = new Promise<JobOutcome>((settle) => {
            resolve = settle;
          });
          promise.then(heard);
          return { promise, resolve };
        }),
    );
    // Each fill on its own engine, so each pays the same growth of the queue from empty.
    const perJob = await retainedPerItem(async () => {
      const { engine } = await openTestEngine();
      const task = engine.task('echo', { module: fixture() });
      const requests = Array.from({ length: jobs }, (_, i) => ({ task, input: i }));
      return () => {
        // Synchronously: nothing is handed to the pool before the measurement, every job is queued.
        const handles = engine.enqueueMany(requests);
        for (const handle of handles) handle.result.then(heard);
        expect(engine.stats().queued).toBe(jobs);
        return handles;
      };
    });
    // The job's own share (its record and its place in the queue) within 14 pointer-sized words;
    // measured on Node 20: 97 B, within 1 B from run to run; ~130 B while notBefore was a number box and the record had three
    // fields for its task's handles and its listener and two for its store id and lease; ~230 B
    // before the record became its own handle (a handle object, an id string, four more fields).
    expect(perJob - floor).toBeLessThanOrEqual(14 * 8);
  });
});
