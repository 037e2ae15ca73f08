import { getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ThreadPool } from '../../src/executors/thread/thread-pool.js';
import type { JobHandle } from '../../src/library/job-record.js';
import { afterTest, fixture, openTestEngine, until } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The warnings this process emits until the test ends. */
function captureWarnings(): string[] {
  const warnings: string[] = [];
  const heard = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', heard);
  afterTest(async () => {
    process.off('warning', heard);
  });
  return warnings;
}

/** A turn of the event loop: a warning is emitted on the next tick after its cause. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

const abortListeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length;

const maxListenerWarnings = (warnings: string[]) =>
  warnings.filter((warning) => warning.includes('MaxListenersExceededWarning'));

async function engineWithTasks(options: Parameters<typeof openTestEngine>[0] = {}) {
  const { engine, events } = await openTestEngine(options);
  const echo = engine.task<number, number>('echo', { module: fixture() });
  const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
  const started = () => events.filter((event) => event.type === 'job.started').length;
  return { engine, echo, sleep, started };
}

describe('the signal job option', () => {
  it('adds one abort listener to a signal shared by many jobs at once, and takes it away once they ended', async () => {
    const warnings = captureWarnings();
    const { engine, sleep } = await engineWithTasks({ pool: { minThreads: 2, maxThreads: 2 } });
    const { signal } = new AbortController();
    const jobs: JobHandle[] = [];
    for (let i = 0; i < 20; i++) jobs.push(engine.enqueue(sleep, 20, { signal }));
    jobs.push(
      ...engine.enqueueMany(
        Array.from({ length: 5 }, () => ({ task: sleep, input: 1, options: { signal } })),
      ),
    );
    await nextTurn();
    expect({ listeners: abortListeners(signal), warnings: maxListenerWarnings(warnings) }).toEqual({
      listeners: 1,
      warnings: [],
    });
    const outcomes = await Promise.all(jobs.map((job) => job.result));
    expect(outcomes.every((outcome) => outcome.kind === 'succeeded')).toBe(true);
    expect(abortListeners(signal)).toBe(0);
    await nextTurn();
    expect(maxListenerWarnings(warnings)).toEqual([]);
  });

  it("cancels every job of an aborted signal, running or queued, with its reason, and no other signal's", async () => {
    const { engine, sleep, started } = await engineWithTasks({ maxInFlight: 2 });
    const stop = new AbortController();
    const other = new AbortController();
    const stopped = Array.from({ length: 12 }, () => engine.enqueue(sleep, 60_000, { signal: stop.signal }));
    const kept = engine.enqueue(sleep, 1, { signal: other.signal });
    await until(() => started() >= 2, 'two jobs to start');
    stop.abort('the user left');
    const outcomes = await Promise.all(stopped.map((job) => job.result));
    expect(outcomes.map((outcome) => [outcome.kind, outcome.kind === 'cancelled' && outcome.reason])).toEqual(
      Array.from({ length: 12 }, () => ['cancelled', 'the user left']),
    );
    expect(outcomes.map((outcome) => outcome.attempts)).toEqual([
      1,
      1,
      ...Array.from({ length: 10 }, () => 0),
    ]);
    expect(abortListeners(stop.signal)).toBe(0);
    expect(await kept.result).toMatchObject({ kind: 'succeeded' });
    expect(abortListeners(other.signal)).toBe(0);
    // Aborted already: cancelled at once, with the same reason.
    const late = engine.enqueue(sleep, 1, { signal: stop.signal });
    expect(await late.result).toEqual({ kind: 'cancelled', reason: 'the user left', attempts: 0 });
  });

  it('keeps no listener and no finished job on a long-lived signal reused for 100,000 jobs', async () => {
    const warnings = captureWarnings();
    const { engine, echo } = await engineWithTasks();
    const controller = new AbortController();
    const { signal } = controller;
    const finished: WeakRef<JobHandle>[] = [];
    // Scoped so that nothing here holds the handles once the jobs ended. One listener per job made
    // each add scan the ones before it: 100,000 at once took minutes.
    await (async () => {
      const jobs: JobHandle[] = [];
      for (let i = 0; i < 100_000; i++) jobs.push(engine.enqueue(echo, i, { signal }));
      expect(abortListeners(signal)).toBe(1);
      const outcomes = await Promise.all(jobs.map((job) => job.result));
      expect(outcomes.filter((outcome) => outcome.kind !== 'succeeded')).toEqual([]);
      for (const at of [0, 50_000, 99_999]) finished.push(new WeakRef(jobs[at] as JobHandle));
    })();
    expect(abortListeners(signal)).toBe(0);
    // A second round on the same signal starts from nothing, too.
    const again = Array.from({ length: 100 }, (_, i) => engine.enqueue(echo, i, { signal }));
    expect(abortListeners(signal)).toBe(1);
    await Promise.all(again.map((job) => job.result));
    expect(abortListeners(signal)).toBe(0);
    await nextTurn();
    gc();
    gc();
    expect(finished.filter((job) => job.deref() !== undefined)).toHaveLength(0);
    // Aborting it now cancels nothing: its jobs ended.
    controller.abort();
    expect(engine.stats()).toEqual({ queued: 0, inFlight: 0, unsettled: 0 });
    expect(maxListenerWarnings(warnings)).toEqual([]);
  });

  it("runs many tasks at once on a caller's pool without a listener per task, and destroy() ends only its own", async () => {
    const warnings = captureWarnings();
    const pool = new ThreadPool({ minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 16 });
    afterTest(() => pool.destroy());
    const mine = await engineWithTasks({ pool });
    const theirs = await engineWithTasks({ pool });
    const jobs = Array.from({ length: 20 }, () => mine.engine.enqueue(mine.sleep, 60_000));
    await until(() => mine.started() >= 16, 'every slot to run a job');
    const other = theirs.engine.enqueue(theirs.sleep, 300);
    await nextTurn();
    expect(maxListenerWarnings(warnings)).toEqual([]);
    await mine.engine.destroy();
    const outcomes = await Promise.all(jobs.map((job) => job.result));
    expect(outcomes.map((outcome) => outcome.kind === 'cancelled' && outcome.reason)).toEqual(
      Array.from({ length: 20 }, () => 'the engine was destroyed'),
    );
    expect(await other.result).toEqual({ kind: 'succeeded', output: 'slept', attempts: 1 });
  });
});
