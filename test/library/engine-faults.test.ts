import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ThreadPoolOptions } from '../../src/executors/thread/config.js';
import type { TaskModuleRef } from '../../src/executors/thread/thread-pool.js';
import type { EngineEvent, JobOutcome } from '../../src/library/events.js';
import type { EngineStoreOptions, JobOptions, RetryPolicy } from '../../src/library/options.js';
import { asQueueJobId } from '../../src/store/queue.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { fullStrength, openPool, fixture as poolFixture } from '../executors/thread/helpers.js';
import { fixture, openTestEngine } from './helpers.js';

/**
 * Two workers, one job each at a time: the faulty job has a worker to itself, so the other jobs run
 * on the other one (or on its replacement). The pool is the caller's, so that its strength can be read.
 */
const twoSingleSlotWorkers: ThreadPoolOptions = { minThreads: 2, maxThreads: 2, concurrentTasksPerWorker: 1 };

/** Every kind a policy may retry: whatever is not retried under it, the engine never retries. */
const retryEverything: RetryPolicy = { maxAttempts: 3, retryOn: ['threw', 'timed_out', 'worker_lost'] };

/** The neighbours are not retried: one lost with the faulty job's worker would show as a failure. */
const once: JobOptions = { retry: { maxAttempts: 1 } };

interface Fault {
  readonly ref: TaskModuleRef;
  readonly options?: JobOptions;
  readonly pool?: ThreadPoolOptions;
  readonly store?: EngineStoreOptions;
}

/**
 * Runs a faulty job alongside 20 ordinary ones; checks that they all succeed, that the faulty job's
 * `job.failed` event carries its final outcome, and that the pool is back to full strength and
 * runs more jobs. Returns the faulty job's outcome and every event.
 */
async function runFault(fault: Fault): Promise<{ outcome: JobOutcome; events: EngineEvent[] }> {
  const { pool } = await openPool({ ...twoSingleSlotWorkers, ...fault.pool });
  const { engine, events } = await openTestEngine({ pool, store: fault.store });
  const faulty = engine.task('faulty', fault.ref);
  const echo = engine.task<number, number>('echo', { module: fixture() });
  const echoes = (count: number) =>
    engine.enqueueMany(Array.from({ length: count }, (_, i) => ({ task: echo, input: i, options: once })));
  const succeeded = (count: number) =>
    Array.from({ length: count }, (_, i) => ({ kind: 'succeeded', output: i, attempts: 1 }));

  const bad = engine.enqueue(faulty, null, fault.options);
  const others = await Promise.all(echoes(20).map((job) => job.result));
  expect(others).toEqual(succeeded(20));

  const outcome = await bad.result;
  const failed = events.filter((event) => event.type === 'job.failed');
  expect(failed).toEqual([{ type: 'job.failed', jobId: bad.id, task: 'faulty', outcome }]);

  await fullStrength(pool, 2);
  expect(pool.stats()).toEqual({ threads: 2, queued: 0, running: 0 });
  const after = await Promise.all(echoes(10).map((job) => job.result));
  expect(after).toEqual(succeeded(10));
  expect(engine.stats()).toEqual({ queued: 0, inFlight: 0, unsettled: 0 });
  return { outcome, events };
}

function retried(events: readonly EngineEvent[]): EngineEvent[] {
  return events.filter((event) => event.type === 'job.retried');
}

function replaced(events: readonly EngineEvent[]): EngineEvent[] {
  return events.filter((event) => event.type === 'worker.replaced');
}

function errorMessage(outcome: JobOutcome): string | undefined {
  return outcome.kind === 'failed' ? outcome.error.message : undefined;
}

describe('Engine: a task module that cannot run fails once, whatever the retry policy', () => {
  it('a module that does not exist: failed (module), naming its path; not retried', async () => {
    const { outcome, events } = await runFault({
      ref: { module: poolFixture('no-such-module.mjs') },
      options: { retry: retryEverything },
    });
    expect(outcome).toMatchObject({
      kind: 'failed',
      reason: 'module',
      error: { code: 'ERR_MODULE_NOT_FOUND' },
      attempts: 1,
    });
    expect(errorMessage(outcome)).toMatch(/^could not load task module file:.*no-such-module\.mjs: /);
    expect(retried(events)).toEqual([]);
  });

  it('a module whose export is not a function: failed (module), saying what it is; not retried', async () => {
    const { outcome, events } = await runFault({
      ref: { module: poolFixture('not-a-function.mjs') },
      options: { retry: retryEverything },
    });
    expect(outcome).toMatchObject({
      kind: 'failed',
      reason: 'module',
      error: { name: 'TaskModuleError' },
      attempts: 1,
    });
    expect(errorMessage(outcome)).toContain(
      'does not export a function named "default": its export "default" is 42',
    );
    expect(retried(events)).toEqual([]);
  });
});

describe('Engine: what a task throws or returns', () => {
  it.each([
    ['string', "the task threw a non-Error value: 'a plain string'"],
    ['object', "the task threw a non-Error value: { status: 500, detail: 'an object, not an Error' }"],
    ['nothing', 'the task threw undefined'],
  ])(
    'a thrown non-Error (%s) is described, and retried when the policy retries threw',
    async (exportName, message) => {
      const { outcome, events } = await runFault({
        ref: { module: poolFixture('throws.mjs'), exportName },
        options: { retry: { maxAttempts: 2, retryOn: ['threw'] } },
      });
      const failure = { kind: 'failed', reason: 'threw', error: { name: 'NonErrorThrown', message } };
      expect(outcome).toEqual({ ...failure, attempts: 2 });
      expect(retried(events)).toEqual([
        expect.objectContaining({ type: 'job.retried', attempt: 1, outcome: failure }),
      ]);
    },
  );

  it.each([
    ['returnsFunction', 'a function (notCloneable)'],
    ['returnsSymbol', 'a symbol (Symbol(not cloneable))'],
  ])('an output that cannot be copied back (%s): failed (output); not retried', async (exportName, what) => {
    const { outcome, events } = await runFault({
      ref: { module: poolFixture('unserialisable.mjs'), exportName },
      options: { retry: retryEverything },
      // Room for every job at once: none waits in the faulty job's worker (see the bug below).
      pool: { concurrentTasksPerWorker: 16 },
    });
    expect(outcome).toMatchObject({
      kind: 'failed',
      reason: 'output',
      error: { name: 'UnserializableOutput' },
      attempts: 1,
    });
    expect(errorMessage(outcome)).toContain(
      `the task returned ${what}, which cannot be copied to the main thread`,
    );
    expect(retried(events)).toEqual([]);
  });

  // WorkerOutbox.push posts a result its journal cannot keep (this one) at once; it used to skip
  // the end of the turn then, so the task waiting for the freed slot never started. The 2 s limit
  // only ends such a hang; the job behind takes a few ms.
  it('a job waiting in the worker behind an unserialisable output still runs', async () => {
    const { engine } = await openTestEngine({
      pool: { minThreads: 1, maxThreads: 1, concurrentTasksPerWorker: 1 },
    });
    const faulty = engine.task('faulty', {
      module: poolFixture('unserialisable.mjs'),
      exportName: 'returnsFunction',
    });
    const echo = engine.task<string, string>('echo', { module: fixture() });
    const bad = engine.enqueue(faulty, null);
    const behind = engine.enqueue(echo, 'behind it');
    await expect(bad.result).resolves.toMatchObject({ kind: 'failed', reason: 'output', attempts: 1 });
    await expect(behind.result).resolves.toEqual({ kind: 'succeeded', output: 'behind it', attempts: 1 });
  }, 2_000);
});

describe('Engine: a task that takes its worker down', () => {
  it('process.exit: worker_lost (exited), retried by default until maxAttempts', async () => {
    const { outcome, events } = await runFault({
      ref: { module: poolFixture('faults.mjs'), exportName: 'exits' },
    });
    expect(outcome).toMatchObject({ kind: 'worker_lost', reason: 'exited', attempts: 3 });
    expect(outcome.kind === 'worker_lost' && outcome.message).toMatch(/exited with code 3/);
    expect(retried(events)).toHaveLength(2);
    expect(replaced(events)).toHaveLength(3);
  });

  it('process.exit on a SQLite store: the same outcome and event, the retries going through the store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'valkyrie-engine-faults-'));
    try {
      const { outcome, events } = await runFault({
        ref: { module: poolFixture('faults.mjs'), exportName: 'exits' },
        store: { kind: 'sqlite', path: join(dir, 'state.db') },
      });
      expect(outcome).toMatchObject({ kind: 'worker_lost', reason: 'exited', attempts: 3 });
      expect(outcome.kind === 'worker_lost' && outcome.message).toMatch(/exited with code 3/);
      expect(retried(events)).toHaveLength(2);
      // Store ids follow enqueue order: the faulty job was the first.
      const stores = openSqliteStores(join(dir, 'state.db'));
      try {
        expect(await stores.queue.getJob(asQueueJobId('1'))).toMatchObject({
          task: 'faulty',
          state: 'failed',
          attempts: 3,
          outcome: {
            kind: 'failed',
            error: expect.stringMatching(/^worker lost \(exited\): .*exited with code 3/),
            detail: { kind: 'worker_lost', reason: 'exited', attempts: 3 },
          },
        });
      } finally {
        await stores.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a busy loop: timed_out after its timeoutMs, its worker replaced; not retried by default', async () => {
    const { outcome, events } = await runFault({
      ref: { module: poolFixture('faults.mjs'), exportName: 'busyLoop' },
      options: { timeoutMs: 100 },
      pool: { abortGraceMs: 100 },
    });
    expect(outcome).toEqual({ kind: 'timed_out', timeoutMs: 100, attempts: 1 });
    expect(retried(events)).toEqual([]);
    expect(replaced(events)).toEqual([
      expect.objectContaining({ type: 'worker.replaced', reason: 'terminated' }),
    ]);
    const [loss] = replaced(events);
    expect(loss?.type === 'worker.replaced' && loss.message).toMatch(/ignored its abort signal for 100 ms/);
  });

  // Without neighbours: a retry sent to a busy worker to wait there, which finds the slot free when it
  // arrives, starts without telling the pool first, and a busy loop then never meets its timeout
  // (a second bug, reported; the heartbeats end it some 10 s later).
  it('a busy loop is retried when the policy retries timed_out', async () => {
    const { engine, events } = await openTestEngine({
      pool: { minThreads: 2, maxThreads: 2, concurrentTasksPerWorker: 1, abortGraceMs: 100 },
    });
    const busy = engine.task('busy', { module: poolFixture('faults.mjs'), exportName: 'busyLoop' });
    const job = engine.enqueue(busy, null, {
      timeoutMs: 100,
      retry: { maxAttempts: 2, retryOn: ['timed_out'] },
    });
    const outcome = await job.result;
    expect(outcome).toEqual({ kind: 'timed_out', timeoutMs: 100, attempts: 2 });
    expect(retried(events)).toEqual([
      expect.objectContaining({ attempt: 1, outcome: { kind: 'timed_out', timeoutMs: 100 } }),
    ]);
    expect(events.filter((event) => event.type === 'job.failed')).toEqual([
      { type: 'job.failed', jobId: job.id, task: 'busy', outcome },
    ]);
  });

  it('out of memory past the pool’s resourceLimits: worker_lost (resource_limits), retried by default', async () => {
    const { outcome, events } = await runFault({
      ref: { module: poolFixture('faults.mjs'), exportName: 'outOfMemory' },
      options: { retry: { maxAttempts: 2 } },
      pool: { resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } },
    });
    expect(outcome).toMatchObject({ kind: 'worker_lost', reason: 'resource_limits', attempts: 2 });
    expect(outcome.kind === 'worker_lost' && outcome.message).toMatch(/ran out of memory/);
    expect(retried(events)).toHaveLength(1);
    expect(replaced(events)).toHaveLength(2);
  });
});
