import { describe, expect, it } from 'vitest';
import { isValkyrieError } from '../../../src/core/errors.js';
import { poolDefaults, resolvePoolOptions } from '../../../src/executors/thread/config.js';

function configError(input: unknown): string {
  try {
    resolvePoolOptions(input as never, poolDefaults(4));
  } catch (error) {
    if (isValkyrieError(error) && error.code === 'VK_POOL_CONFIG') return error.message;
    throw error;
  }
  throw new Error('expected VK_POOL_CONFIG');
}

describe('thread pool options', () => {
  it('fits the defaults to the core count and freezes the result', () => {
    const resolved = resolvePoolOptions({}, poolDefaults(4));
    expect(resolved).toMatchObject({ minThreads: 2, maxThreads: 4, taskTimeoutMs: Number.POSITIVE_INFINITY });
    expect(poolDefaults(1)).toMatchObject({ minThreads: 1, maxThreads: 1 });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(Object.isFrozen(resolved.resourceLimits)).toBe(true);
  });

  it('lets an explicit maxThreads lower the default minimum', () => {
    expect(resolvePoolOptions({ maxThreads: 1 }, poolDefaults(8))).toMatchObject({
      minThreads: 1,
      maxThreads: 1,
    });
  });

  it.each([
    [{ maxThreads: 0 }, 'option "maxThreads" must be an integer ≥ 1; received 0'],
    [{ minThreads: 1.5 }, 'option "minThreads" must be an integer ≥ 0; received 1.5'],
    [
      { concurrentTasksPerWorker: '4' },
      'option "concurrentTasksPerWorker" must be an integer ≥ 1; received "4"',
    ],
    [
      { idleTimeoutMs: -1 },
      'option "idleTimeoutMs" must be a finite number of milliseconds ≥ 0; received -1',
    ],
    [
      { taskTimeoutMs: 0 },
      'option "taskTimeoutMs" must be a number of milliseconds greater than 0, or Infinity',
    ],
    [{ heartbeatIntervalMs: Number.NaN }, 'option "heartbeatIntervalMs" must be a finite number'],
    [{ resourceLimits: { maxOldGenerationSizeMb: -1 } }, '"resourceLimits.maxOldGenerationSizeMb" must be'],
    [{ resourceLimits: { heap: 1 } }, 'unknown option "resourceLimits.heap"'],
    [{ minThreads: 3, maxThreads: 2 }, 'minThreads (3) is greater than maxThreads (2)'],
    [{ maxThread: 2 }, 'unknown option "maxThread"'],
    [null, 'option "options" must be an object; received null'],
  ])('rejects %j', (input, message) => {
    expect(configError(input)).toContain(message);
  });

  it('shows a BigInt as one, not as the number it holds', () => {
    // "must be an integer ≥ 1; received 4" named a value that passes the check.
    expect(configError({ maxThreads: 4n })).toContain(
      'option "maxThreads" must be an integer ≥ 1; received 4n',
    );
  });
});
