import { ValkyrieError } from '../../core/errors.js';
import { describe, validateTimeout } from './config.js';
import type { RunTaskOptions } from './task-record.js';

const runOptionNames: readonly string[] = [
  'timeoutMs',
  'signal',
  'attempt',
  'isolated',
  'onProgress',
  'onLog',
] satisfies readonly (keyof RunTaskOptions)[];

/** A task's own settings, checked: what `run()` resolves from its options and the pool's. */
export interface RunSettings {
  readonly timeoutMs: number;
  readonly attempt: number;
}

/**
 * Checks `run()`'s options before the pool counts the task, so that a bad one rejects and leaves
 * nothing behind: a signal that is not an AbortSignal failed as it was listened to, after the task
 * was counted (close() then waited for it for ever), and a callback that is not a function threw
 * from the pool's message handler when the task logged, ending the caller's process. An unknown
 * name (`timeout`, Piscina's `name`) is refused rather than ignored, which would drop the setting.
 */
export function runSettings(options: unknown, taskTimeoutMs: number): RunSettings {
  if (options === undefined) return { timeoutMs: taskTimeoutMs, attempt: 1 };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalid('run(): options must be an object', options);
  }
  for (const key in options) {
    if (!runOptionNames.includes(key) && Object.hasOwn(options, key)) {
      throw new ValkyrieError(
        'VK_POOL_CONFIG',
        `run(): unknown option "${key}" (known: ${runOptionNames.join(', ')})`,
      );
    }
  }
  const { timeoutMs, attempt, isolated, signal, onProgress, onLog } = options as RunTaskOptions;
  if (attempt !== undefined && (typeof attempt !== 'number' || !Number.isInteger(attempt) || attempt < 1)) {
    throw invalid('run(): option "attempt" must be an integer ≥ 1', attempt);
  }
  if (isolated !== undefined && typeof isolated !== 'boolean') {
    throw invalid('run(): option "isolated" must be a boolean', isolated);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalid('run(): option "signal" must be an AbortSignal', signal);
  }
  for (const [name, callback] of [
    ['onProgress', onProgress],
    ['onLog', onLog],
  ] as const) {
    if (callback !== undefined && typeof callback !== 'function') {
      throw invalid(`run(): option "${name}" must be a function`, callback);
    }
  }
  return {
    timeoutMs: timeoutMs === undefined ? taskTimeoutMs : validateTimeout('timeoutMs', timeoutMs),
    attempt: attempt ?? 1,
  };
}

function invalid(what: string, received: unknown): ValkyrieError {
  return new ValkyrieError('VK_POOL_CONFIG', `${what}; received ${describe(received)}`);
}
