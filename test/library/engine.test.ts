import { describe, expect, it } from 'vitest';
import { isValkyrieError } from '../../src/core/errors.js';
import { type Engine, openEngine } from '../../src/library/engine.js';
import type { EngineEvent, JobOutcome } from '../../src/library/events.js';
import { ManualClock } from '../core/manual-clock.js';
import { fixture, openTestEngine } from './helpers.js';

describe('Engine: jobs', () => {
  it('runs a job and resolves its result with the output and the attempts it took', async () => {
    const { engine, events } = await openTestEngine();
    const echo = engine.task<{ n: number }, { n: number }>('echo', { module: fixture() });
    const job = engine.enqueue(echo, { n: 7 });
    expect(job.id).toEqual(expect.any(String));
    await expect(job.result).resolves.toEqual({ kind: 'succeeded', output: { n: 7 }, attempts: 1 });
    expect(events.map((event) => event.type)).toEqual(['job.started', 'job.succeeded']);
    expect(events[1]).toEqual({
      type: 'job.succeeded',
      jobId: job.id,
      task: 'echo',
      attempts: 1,
      output: { n: 7 },
    });
  });

  it("reports a job's progress as events", async () => {
    const { engine, events } = await openTestEngine();
    const reports = engine.task('reports', { module: fixture(), exportName: 'reports' });
    const job = engine.enqueue(reports, null);
    await expect(job.result).resolves.toMatchObject({ kind: 'succeeded', output: 'reported' });
    expect(events.filter((event) => event.type === 'job.progress')).toEqual([
      { type: 'job.progress', jobId: job.id, task: 'reports', attempt: 1, value: { done: 1 } },
      { type: 'job.progress', jobId: job.id, task: 'reports', attempt: 1, value: { done: 2 } },
    ]);
  });

  it('names the task and the attempt in each progress event (before: neither)', async () => {
    const { engine, events } = await openTestEngine();
    const reports = engine.task('each', { module: fixture(), exportName: 'reportsEachAttempt' });
    const job = engine.enqueue(reports, null, { retry: { maxAttempts: 2, retryOn: ['threw'] } });
    await expect(job.result).resolves.toMatchObject({ kind: 'succeeded', attempts: 2 });
    expect(events.filter((event) => event.type === 'job.progress')).toEqual([
      { type: 'job.progress', jobId: job.id, task: 'each', attempt: 1, value: 'attempt 1' },
      { type: 'job.progress', jobId: job.id, task: 'each', attempt: 2, value: 'attempt 2' },
    ]);
  });

  it("reports every attempt's ctx.logger lines as job.log events, in order", async () => {
    const { engine, events } = await openTestEngine();
    const logs = engine.task('logs', { module: fixture(), exportName: 'logs' });
    const job = engine.enqueue(logs, 'x', { retry: { maxAttempts: 2, retryOn: ['threw'] } });
    await expect(job.result).resolves.toMatchObject({ kind: 'succeeded', output: 'logged', attempts: 2 });
    const line = (attempt: number, level: string, message: string, fields?: unknown) => ({
      type: 'job.log',
      jobId: job.id,
      task: 'logs',
      attempt,
      level,
      message,
      fields,
    });
    expect(events.filter((event) => event.type === 'job.log')).toEqual([
      line(1, 'debug', 'checking', { attempt: 1 }),
      line(1, 'info', 'attempt 1 of x'),
      line(1, 'warn', 'first attempt gives up'),
      line(2, 'debug', 'checking', { attempt: 2 }),
      line(2, 'info', 'attempt 2 of x'),
      line(2, 'error', 'second attempt is fine', [1, 2]),
    ]);
  });

  it('reports the progress of a job that started before anyone listened', async () => {
    const engine = await openEngine({ pool: { minThreads: 1, maxThreads: 1 } });
    try {
      const reports = engine.task('reportsLater', { module: fixture(), exportName: 'reportsLater' });
      const job = engine.enqueue(reports, 200);
      // Handed to the pool while nobody listened: how the attempt runs is decided by then.
      while (engine.stats().inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      const progress: EngineEvent[] = [];
      engine.onEvent((event) => {
        if (event.type === 'job.progress') progress.push(event);
      });
      await expect(job.result).resolves.toMatchObject({ kind: 'succeeded', output: 'reported' });
      expect(progress).toEqual([
        { type: 'job.progress', jobId: job.id, task: 'reportsLater', attempt: 1, value: 'late' },
      ]);
    } finally {
      await engine.destroy();
    }
  });

  it('enqueues many jobs in one call, each with its own result, by handle or by name', async () => {
    const { engine } = await openTestEngine();
    engine.task('echo', { module: fixture() });
    const jobs = engine.enqueueMany(Array.from({ length: 500 }, (_, i) => ({ task: 'echo', input: i })));
    expect(new Set(jobs.map((job) => job.id)).size).toBe(500);
    const outcomes = await Promise.all(jobs.map((job) => job.result));
    expect(outcomes.map((outcome) => outcome.kind === 'succeeded' && outcome.output)).toEqual(
      Array.from({ length: 500 }, (_, i) => i),
    );
  });

  it('refuses a whole enqueueMany when one request is bad, naming it', async () => {
    const { engine } = await openTestEngine();
    engine.task('echo', { module: fixture() });
    const attempt = () =>
      engine.enqueueMany([
        { task: 'echo', input: 1 },
        { task: 'echo', input: 2, options: { priority: 'urgent' as 'high' } },
      ]);
    expect(attempt).toThrow(/enqueueMany\(\)\[1\] options\.priority must be .*received 'urgent'/);
    expect(() => engine.enqueue('nope', 1)).toThrow(/registered with engine\.task\(\); received 'nope'/);
    // An empty name is shown as one, not as nothing after "received".
    expect(() => engine.task('', { module: fixture() })).toThrow(/non-empty string; received ''$/);
    expect(engine.stats()).toEqual({ queued: 0, inFlight: 0, unsettled: 0 });
  });

  it('has no store ids in memory: getStoredJob says why it cannot look a job up', async () => {
    const { engine } = await openTestEngine();
    const job = engine.enqueue(engine.task('echo', { module: fixture() }), 'x');
    await job.result;
    expect(job.storeId).toBeUndefined();
    await expect(engine.getStoredJob('1')).rejects.toThrow(/in-memory store keeps no jobs/);
  });

  it('returns the first job for a repeated idempotency key', async () => {
    const { engine } = await openTestEngine();
    const echo = engine.task('echo', { module: fixture() });
    const first = engine.enqueue(echo, 'first', { idempotencyKey: 'k' });
    const second = engine.enqueue(echo, 'first', { idempotencyKey: 'k' });
    expect(second).toBe(first);
    await expect(second.result).resolves.toMatchObject({ output: 'first' });
    // A refused batch leaves no key behind; a key repeated within one batch gives one job.
    expect(() =>
      engine.enqueueMany([
        { task: echo, input: 'a', options: { idempotencyKey: 'batch' } },
        { task: echo, input: 'b', options: { delayMs: -1 } },
      ]),
    ).toThrow(
      /enqueueMany\(\)\[1\] options\.delayMs must be a number from 0 to \d+ \(100 years\); received -1/,
    );
    const [a, b] = engine.enqueueMany([
      { task: echo, input: 'a', options: { idempotencyKey: 'batch' } },
      { task: echo, input: 'a', options: { idempotencyKey: 'batch' } },
    ]);
    expect(b).toBe(a);
    await expect(a?.result).resolves.toMatchObject({ output: 'a' });
    expect(engine.stats().unsettled).toBe(0);
  });

  it('forgets an idempotency key 24 hours after its first job on the in-memory store (injected clock)', async () => {
    const clock = new ManualClock();
    const { engine } = await openTestEngine({ clock });
    const echo = engine.task('echo', { module: fixture() });
    const first = engine.enqueue(echo, 'first', { idempotencyKey: 'k' });
    await expect(first.result).resolves.toMatchObject({ output: 'first' });
    await clock.advance(24 * 60 * 60 * 1000 - 1);
    expect(engine.enqueue(echo, 'first', { idempotencyKey: 'k' })).toBe(first);
    await clock.advance(1);
    const later = engine.enqueue(echo, 'later', { idempotencyKey: 'k' });
    expect(later).not.toBe(first);
    await expect(later.result).resolves.toMatchObject({ output: 'later' });
  });

  it('starts waiting jobs in priority order, first in first out within a priority', async () => {
    const { engine, events } = await openTestEngine({ maxInFlight: 1 });
    const echo = engine.task('echo', { module: fixture() });
    const jobs = engine.enqueueMany(
      (['low', 'normal', 'critical', 'high', 'normal', 'background'] as const).map((priority, i) => ({
        task: echo,
        input: `${priority}-${i}`,
        options: { priority },
      })),
    );
    await Promise.all(jobs.map((job) => job.result));
    const started = events.flatMap((event) => (event.type === 'job.started' ? [event.jobId] : []));
    const ids = jobs.map((job) => job.id);
    expect(started).toEqual([ids[2], ids[3], ids[1], ids[4], ids[0], ids[5]]);
  });

  it('starts a delayed job only once its time has come (injected clock)', async () => {
    const clock = new ManualClock();
    const { engine, events } = await openTestEngine({ clock });
    const echo = engine.task('echo', { module: fixture() });
    const later = engine.enqueue(echo, 'later', { delayMs: 5_000 });
    const now = engine.enqueue(echo, 'now');
    await expect(now.result).resolves.toMatchObject({ kind: 'succeeded' });
    await clock.advance(4_999);
    expect(events.filter((event) => event.type === 'job.started').length).toBe(1);
    expect(engine.stats().queued).toBe(1);
    await clock.advance(1);
    await expect(later.result).resolves.toEqual({ kind: 'succeeded', output: 'later', attempts: 1 });
  });

  it('retries a throwing task per its policy, then succeeds', async () => {
    const { engine, events } = await openTestEngine();
    const flaky = engine.task<{ succeedOn: number }, number>('flaky', {
      module: fixture(),
      exportName: 'flaky',
    });
    const job = engine.enqueue(flaky, { succeedOn: 3 }, { retry: { maxAttempts: 3, retryOn: ['threw'] } });
    await expect(job.result).resolves.toEqual({ kind: 'succeeded', output: 3, attempts: 3 });
    const retried = events.filter((event) => event.type === 'job.retried');
    expect(retried.map((event) => event.type === 'job.retried' && event.attempt)).toEqual([1, 2]);
  });

  it('waits between attempts by the backoff it is given, as the workflow language does', async () => {
    const { engine, events } = await openTestEngine();
    const flaky = engine.task<{ succeedOn: number }, number>('flaky', {
      module: fixture(),
      exportName: 'flaky',
    });
    const retry = { maxAttempts: 4, retryOn: ['threw'], delayMs: 5, backoff: 'exponential' } as const;
    const job = engine.enqueue(flaky, { succeedOn: 4 }, { retry });
    await expect(job.result).resolves.toEqual({ kind: 'succeeded', output: 4, attempts: 4 });
    const delays = events.flatMap((event) => (event.type === 'job.retried' ? [event.delayMs] : []));
    expect(delays).toEqual([5, 10, 20]);
    expect(() =>
      engine.enqueue(flaky, { succeedOn: 1 }, { retry: { backoff: 'random' as 'fixed' } }),
    ).toThrow(
      /retry\.backoff must be one of 'fixed', 'linear', 'exponential', 'fibonacci'; received 'random'/,
    );
  });

  it('does not retry a task error by default, and stops at maxAttempts', async () => {
    const { engine } = await openTestEngine();
    const flaky = engine.task('flaky', { module: fixture(), exportName: 'flaky' });
    const once = engine.enqueue(flaky, { succeedOn: 2 });
    await expect(once.result).resolves.toMatchObject({ kind: 'failed', reason: 'threw', attempts: 1 });
    const twice = engine.enqueue(flaky, { succeedOn: 5 }, { retry: { maxAttempts: 2, retryOn: ['threw'] } });
    await expect(twice.result).resolves.toMatchObject({
      kind: 'failed',
      error: { message: 'attempt 2 failed' },
      attempts: 2,
    });
  });

  it('retries a job whose worker was lost, by default', async () => {
    const { engine, events } = await openTestEngine();
    const exits = engine.task('exits', { module: fixture(), exportName: 'exitsOnFirstAttempt' });
    const job = engine.enqueue(exits, null);
    await expect(job.result).resolves.toEqual({ kind: 'succeeded', output: 'attempt 2', attempts: 2 });
    const retried = events.find((event) => event.type === 'job.retried');
    expect(retried).toMatchObject({ outcome: { kind: 'worker_lost', reason: 'exited' } });
    expect(events.some((event) => event.type === 'worker.replaced')).toBe(true);
  });

  it('ends a job that runs past its timeout as timed_out', async () => {
    const { engine } = await openTestEngine();
    const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
    const job = engine.enqueue(sleep, 10_000, { timeoutMs: 50 });
    await expect(job.result).resolves.toEqual({ kind: 'timed_out', timeoutMs: 50, attempts: 1 });
  });
});

describe('Engine: shutdown', () => {
  it('close() lets queued and running jobs finish, then refuses new ones; it is idempotent', async () => {
    const { engine } = await openTestEngine({ maxInFlight: 2 });
    const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
    const jobs = Array.from({ length: 6 }, () => engine.enqueue(sleep, 20));
    const closed = engine.close();
    expect(engine.close()).toBe(closed);
    let refused: unknown;
    try {
      engine.enqueue(sleep, 1);
    } catch (error) {
      refused = error;
    }
    expect(isValkyrieError(refused) && refused.code).toBe('VK_ENGINE_CLOSED');
    await closed;
    const outcomes = await Promise.all(jobs.map((job) => job.result));
    expect(outcomes.map((outcome) => outcome.kind === 'succeeded' && outcome.output)).toEqual(
      Array(6).fill('slept'),
    );
  });

  it('close({ deadlineMs }) cancels what is still unfinished at the deadline', async () => {
    const { engine } = await openTestEngine({ maxInFlight: 1 });
    const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
    const running = engine.enqueue(sleep, 60_000);
    const waiting = engine.enqueue(sleep, 1);
    await engine.close({ deadlineMs: 50 });
    await expect(running.result).resolves.toMatchObject({ kind: 'cancelled' });
    // In memory nothing keeps it: the reason must not say it waits in a store.
    await expect(waiting.result).resolves.toEqual({
      kind: 'cancelled',
      reason:
        "the engine's close() deadline of 50 ms passed before the job ran; the in-memory store keeps no jobs",
      attempts: 0,
    });
  });

  it('destroy() cancels running, queued and delayed jobs at once; it is idempotent', async () => {
    const { engine } = await openTestEngine({ maxInFlight: 1 });
    const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
    const jobs = [
      engine.enqueue(sleep, 60_000),
      engine.enqueue(sleep, 1),
      engine.enqueue(sleep, 1, { delayMs: 60_000 }),
    ];
    const destroyed = engine.destroy();
    expect(engine.destroy()).toBe(destroyed);
    expect(engine.close()).toBeInstanceOf(Promise);
    await destroyed;
    const outcomes = await Promise.all(jobs.map((job) => job.result));
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(engine.stats()).toEqual({ queued: 0, inFlight: 0, unsettled: 0 });
  });

  it('task() throws VK_ENGINE_CLOSED once close() or destroy() was called, as enqueue() does', async () => {
    for (const end of ['close', 'destroy'] as const) {
      const { engine } = await openTestEngine();
      engine.task('echo', { module: fixture() });
      await engine[end]();
      // The task registered before, and a new one.
      for (const ref of [{ module: fixture() }, { module: fixture(), exportName: 'sleep' }]) {
        expect(() => engine.task(ref.exportName ?? 'echo', ref)).toThrow(
          expect.objectContaining({
            code: 'VK_ENGINE_CLOSED',
            message: 'task(): the engine is closing; the task was not accepted',
          }),
        );
      }
    }
  });

  it('await using closes gracefully: a running job finishes first, then enqueue throws VK_ENGINE_CLOSED', async () => {
    let escaped: Engine | undefined;
    let settled: JobOutcome<string> | undefined;
    {
      await using engine = await openEngine({ pool: { minThreads: 1, maxThreads: 1 } });
      escaped = engine;
      const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
      const started = new Promise<void>((resolve) => {
        const stop = engine.onEvent((event) => {
          if (event.type === 'job.started') {
            stop();
            resolve();
          }
        });
      });
      engine.enqueue(sleep, 50).result.then((outcome) => {
        settled = outcome;
      });
      await started;
    }
    // Disposal waited for the job: it had finished, not been cancelled, when the block was left.
    expect(settled).toEqual({ kind: 'succeeded', output: 'slept', attempts: 1 });
    let refused: unknown;
    try {
      escaped.enqueue('sleep', 1);
    } catch (error) {
      refused = error;
    }
    expect(isValkyrieError(refused) && refused.code).toBe('VK_ENGINE_CLOSED');
  });
});
