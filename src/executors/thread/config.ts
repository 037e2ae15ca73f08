import os from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { ValkyrieError } from '../../core/errors.js';

/** Options of a `ThreadPool`, all optional; `resolvePoolOptions` fills in `poolDefaults()`. */
export interface ThreadPoolOptions {
  /** Workers kept running even when idle; started when the pool is created. */
  readonly minThreads?: number;
  /** Upper bound on workers; more start when tasks queue up. */
  readonly maxThreads?: number;
  /** Tasks one worker runs at the same time (async tasks interleave on its event loop); as many again may wait in it. */
  readonly concurrentTasksPerWorker?: number;
  /** A worker above `minThreads` with nothing to do for this long is stopped. */
  readonly idleTimeoutMs?: number;
  /** Default time limit of a task, from when it starts in its worker; `Infinity` for none. */
  readonly taskTimeoutMs?: number;
  /** How long a task may run on after its signal was aborted before its worker is terminated. */
  readonly abortGraceMs?: number;
  /** How often each worker proves its event loop is turning. */
  readonly heartbeatIntervalMs?: number;
  /** Consecutive heartbeat checks without progress before a worker counts as unresponsive. */
  readonly maxMissedHeartbeats?: number;
  /** V8 heap and stack limits of each worker; a worker over them is lost with `resource_limits`. */
  readonly resourceLimits?: ResourceLimits;
}

export interface ResolvedThreadPoolOptions {
  readonly minThreads: number;
  readonly maxThreads: number;
  readonly concurrentTasksPerWorker: number;
  readonly idleTimeoutMs: number;
  readonly taskTimeoutMs: number;
  readonly abortGraceMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxMissedHeartbeats: number;
  readonly resourceLimits: Readonly<ResourceLimits>;
}

/**
 * Defaults fitted to this machine: as many workers as cores at most (the main thread also needs
 * one, but async tasks leave workers idle between awaits), half of them kept warm.
 */
export function poolDefaults(cores = os.availableParallelism()): ResolvedThreadPoolOptions {
  return Object.freeze({
    minThreads: Math.max(1, Math.floor(cores / 2)),
    maxThreads: Math.max(1, cores),
    concurrentTasksPerWorker: 16,
    idleTimeoutMs: 10_000,
    taskTimeoutMs: Number.POSITIVE_INFINITY,
    abortGraceMs: 2_000,
    heartbeatIntervalMs: 1_000,
    maxMissedHeartbeats: 10,
    resourceLimits: Object.freeze({}),
  });
}

const resourceLimitKeys = [
  'maxOldGenerationSizeMb',
  'maxYoungGenerationSizeMb',
  'codeRangeSizeMb',
  'stackSizeMb',
] as const;

/** Validates at the edge: every message names the option and the value received. Result is frozen. */
export function resolvePoolOptions(
  input: ThreadPoolOptions = {},
  defaults: ResolvedThreadPoolOptions = poolDefaults(),
): ResolvedThreadPoolOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('options', input, Array.isArray(input) ? 'an object, not an array' : 'an object');
  }
  const known = new Set<string>([...Object.keys(defaults)]);
  for (const key of Object.keys(input)) {
    if (!known.has(key)) {
      throw new ValkyrieError(
        'VK_POOL_CONFIG',
        `thread pool: unknown option "${key}" (known: ${[...known].join(', ')})`,
      );
    }
  }
  const maxThreads = integer(input, 'maxThreads', defaults.maxThreads, 1);
  // A default minimum above an explicit maximum follows the maximum rather than failing.
  const minThreads = integer(input, 'minThreads', Math.min(defaults.minThreads, maxThreads), 0);
  if (minThreads > maxThreads) {
    throw new ValkyrieError(
      'VK_POOL_CONFIG',
      `thread pool: minThreads (${minThreads}) is greater than maxThreads (${maxThreads})`,
    );
  }
  return Object.freeze({
    minThreads,
    maxThreads,
    concurrentTasksPerWorker: integer(
      input,
      'concurrentTasksPerWorker',
      defaults.concurrentTasksPerWorker,
      1,
    ),
    idleTimeoutMs: duration(input, 'idleTimeoutMs', defaults.idleTimeoutMs, false),
    taskTimeoutMs: duration(input, 'taskTimeoutMs', defaults.taskTimeoutMs, true),
    abortGraceMs: duration(input, 'abortGraceMs', defaults.abortGraceMs, false),
    heartbeatIntervalMs: Math.max(
      1,
      duration(input, 'heartbeatIntervalMs', defaults.heartbeatIntervalMs, false),
    ),
    maxMissedHeartbeats: integer(input, 'maxMissedHeartbeats', defaults.maxMissedHeartbeats, 1),
    resourceLimits: limits(input.resourceLimits ?? defaults.resourceLimits),
  });
}

/** Checks a per-task timeout the same way as the pool option. */
export function validateTimeout(path: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) {
    throw invalid(path, value, 'a number of milliseconds greater than 0, or Infinity');
  }
  return value;
}

function integer(
  input: ThreadPoolOptions,
  key: keyof ThreadPoolOptions,
  fallback: number,
  min: number,
): number {
  const value: unknown = input[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalid(key, value, `an integer ≥ ${min}`);
  }
  return value;
}

function duration(
  input: ThreadPoolOptions,
  key: keyof ThreadPoolOptions,
  fallback: number,
  infinityAllowed: boolean,
): number {
  const value: unknown = input[key];
  if (value === undefined) return fallback;
  if (infinityAllowed) return validateTimeout(key, value);
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(key, value, 'a finite number of milliseconds ≥ 0');
  }
  return value;
}

function limits(value: unknown): Readonly<ResourceLimits> {
  if (typeof value !== 'object' || value === null) throw invalid('resourceLimits', value, 'an object');
  const result: Record<string, number> = {};
  for (const [key, limit] of Object.entries(value)) {
    if (!(resourceLimitKeys as readonly string[]).includes(key)) {
      throw new ValkyrieError(
        'VK_POOL_CONFIG',
        `thread pool: unknown option "resourceLimits.${key}" (known: ${resourceLimitKeys.join(', ')})`,
      );
    }
    if (typeof limit !== 'number' || !Number.isFinite(limit) || limit <= 0) {
      throw invalid(`resourceLimits.${key}`, limit, 'a number of megabytes greater than 0');
    }
    result[key] = limit;
  }
  return Object.freeze(result);
}

function invalid(path: string, value: unknown, expected: string): ValkyrieError {
  return new ValkyrieError(
    'VK_POOL_CONFIG',
    `thread pool: option "${path}" must be ${expected}; received ${describe(value)}`,
  );
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  // With its suffix: "received 4" for 4n named a value the check would have taken.
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined || value === null) return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (Array.isArray(value)) return 'an array';
  return 'an object';
}
