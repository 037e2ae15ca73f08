import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openEngine } from '../../src/library/engine.js';
import type { EngineOptions, JobOptions } from '../../src/library/options.js';
import { fixture, openTestEngine } from './helpers.js';

/** Options as a caller used to another queue writes them: names the types do not have. */
const loose = <T>(value: Record<string, unknown>): T => value as T;

describe('option names', () => {
  it('refuses a job option it does not know, naming ours', async () => {
    const { engine } = await openTestEngine();
    const echo = engine.task('echo', { module: fixture() });
    expect(() =>
      engine.enqueue(
        echo,
        1,
        loose<JobOptions>({ attempts: 5, backoff: { type: 'exponential', delay: 1000 } }),
      ),
    ).toThrow(
      'enqueue() options has no option "attempts" (did you mean retry.maxAttempts?); its options are priority, delayMs, timeoutMs, retry, idempotencyKey, signal',
    );
    expect(() => engine.enqueue(echo, 1, { retry: loose({ attempts: 5 }) })).toThrow(
      'enqueue() options.retry has no option "attempts" (did you mean maxAttempts?)',
    );
    // graphile-worker's addJob takes a Date to run at; ours is a delay from now.
    expect(() => engine.enqueue(echo, 1, loose<JobOptions>({ runAt: new Date() }))).toThrow(
      'enqueue() options has no option "runAt" (did you mean delayMs, in milliseconds from now?)',
    );
    expect(() => engine.enqueue(echo, 1, loose<JobOptions>({ priorty: 'high' }))).toThrow(
      'has no option "priorty" (did you mean priority?)',
    );
    expect(() => engine.enqueueMany([loose({ task: echo, data: 1 })])).toThrow(
      'enqueueMany()[0] has no option "data" (did you mean input?); its options are task, input, options',
    );
    expect(engine.stats().unsettled).toBe(0);
  });

  it('refuses an engine or store option it does not know', async () => {
    await expect(
      openEngine(loose<EngineOptions>({ stor: join(tmpdir(), 'vk-never-opened.db') })),
    ).rejects.toMatchObject({
      code: 'VK_ENGINE_CONFIG',
      message: expect.stringContaining('openEngine(options) has no option "stor" (did you mean store?)'),
    });
    await expect(
      openEngine({
        store: loose({ kind: 'sqlite', path: join(tmpdir(), 'vk-never-opened.db'), busyTimeout: 5 }),
      }),
    ).rejects.toThrow(
      'openEngine(): option "store" has no option "busyTimeout" (did you mean busyTimeoutMs?)',
    );
    await expect(openEngine({ retry: loose({ maxAttempt: 2 }) })).rejects.toThrow(
      'openEngine(): option "retry" has no option "maxAttempt" (did you mean maxAttempts?)',
    );
  });
});

describe('option values', () => {
  it('refuses a clock that is not one, naming the option', async () => {
    await expect(openEngine(loose<EngineOptions>({ clock: 5 }))).rejects.toMatchObject({
      code: 'VK_ENGINE_CONFIG',
      message:
        'openEngine(): option "clock" must be an object with now() and setTimer() (a Clock); received 5',
    });
  });
});

describe("the engine's other calls", () => {
  // Taken as it was, the listener threw at every event, each reported as a process warning.
  it('onEvent() takes only a function', async () => {
    const { engine } = await openTestEngine();
    expect(() => engine.onEvent(loose({}))).toThrow(
      expect.objectContaining({
        code: 'VK_ENGINE_CONFIG',
        message: 'onEvent(): the listener must be a function; received object',
      }),
    );
  });

  // close(true) (BullMQ's force) or close(5000) closed with no deadline, waiting for every job.
  it('close() takes { deadlineMs } only, and the engine stays open after a refused call', async () => {
    const { engine } = await openTestEngine();
    const echo = engine.task('echo', { module: fixture() });
    const close = engine.close as (options: unknown) => Promise<void>;
    await expect(close.call(engine, 5000)).rejects.toMatchObject({
      code: 'VK_ENGINE_CONFIG',
      message: 'close(): expected { deadlineMs? }; received 5000',
    });
    await expect(close.call(engine, { timeoutMs: 5 })).rejects.toThrow(
      'close(): unknown option "timeoutMs" (known: deadlineMs)',
    );
    await expect(engine.enqueue(echo, 1).result).resolves.toMatchObject({ kind: 'succeeded', output: 1 });
  });
});

describe('option agingIntervalMs', () => {
  it('refuses 0, which would ignore priorities rather than turn aging off, saying what is allowed', async () => {
    for (const [value, shown] of [
      [0, '0'],
      [-1, '-1'],
      [0.5, '0.5'],
      ['60s', "'60s'"],
    ] as const) {
      await expect(openEngine(loose<EngineOptions>({ agingIntervalMs: value }))).rejects.toMatchObject({
        code: 'VK_ENGINE_CONFIG',
        message: `openEngine(): option "agingIntervalMs" must be a whole number of milliseconds above 0: how long a waiting job takes to rank with the next priority up (0 would rank every job by its arrival alone, ignoring priorities; for priorities that practically never age, as in BullMQ or graphile-worker, give a long interval such as 86_400_000, a day); received ${shown}`,
      });
    }
  });
});

describe('a stored job written by a later Valkyrie', () => {
  it('keeps the retry fields this version knows when the stored policy has more', async () => {
    const { readPayload } = await import('../../src/library/stored-job.js');
    const { resolveJobOptions, retryDefaults } = await import('../../src/library/options.js');
    const payload = {
      input: 1,
      options: { priority: 'high', retry: { maxAttempts: 3, retryOn: ['threw'], maxElapsedMs: 60_000 } },
    };
    const resolved = resolveJobOptions('stored job 1 options', readPayload(payload).options, retryDefaults);
    expect(resolved).toMatchObject({ priority: 'high', retry: { maxAttempts: 3, retryOn: ['threw'] } });
  });
});
