import { type Clock, systemClock } from '../core/clock.js';
import { ValkyrieError } from '../core/errors.js';
import { defaultAgingIntervalMs, defaultPriority, isPriority, type Priority } from '../core/priority.js';
import { type Backoff, largestMaxAttempts } from '../core/retry-delay.js';
import { foreignUrlScheme, isPostgresUrl } from '../core/store-target.js';
import type { ThreadPoolOptions } from '../executors/thread/config.js';
import type { ThreadPool } from '../executors/thread/thread-pool.js';
import { idempotencyKeyProblem, largestIdempotencyKeyBytes } from '../store/idempotency-key.js';
import { largestLeaseTtlMs } from '../store/queue-rows.js';
import { defaultBusyTimeoutMs } from '../store/sqlite/open.js';
import { checkOptionNames } from './option-keys.js';
import {
  checkBackoff,
  checkBoundedCount,
  checkBoundedDelay,
  checkCount,
  checkDelay,
  checkJitter,
  checkOptionsObject,
  fail,
} from './option-values.js';

/**
 * Outcomes a retry policy may retry. A task that could not be loaded, whose input or output cannot
 * be copied, or that was cancelled is never retried: another attempt would end the same way.
 */
export type RetryableKind = 'threw' | 'timed_out' | 'worker_lost';

/**
 * When a job is attempted again and how long it waits first. The delay math is the workflow
 * language's `retry:` (core/retry-delay.ts), so both behave alike.
 */
export interface RetryPolicy {
  /**
   * Attempts in all, the first included. Default 3. An attempt lost with a worker that ran other
   * tasks beside it is not counted, once per job (retry-planner.ts).
   */
  readonly maxAttempts?: number;
  /** The base wait between an attempt's end and the next attempt's earliest start. Default 0. */
  readonly delayMs?: number;
  /** How the wait grows with each attempt: fixed (the default), linear, exponential or fibonacci. */
  readonly backoff?: Backoff;
  /** No wait is longer than this, in ms. Default 5 minutes. */
  readonly maxDelayMs?: number;
  /** The share of each wait that is randomised, 0 (the default) to 1; waits only get shorter. */
  readonly jitter?: number;
  /**
   * Which outcomes earn another attempt. Default `['worker_lost']`: a lost worker is not the task's
   * fault, while a task's own error is retried only when the caller says so (`['threw', 'worker_lost']`).
   */
  readonly retryOn?: readonly RetryableKind[];
}

export type ResolvedRetryPolicy = Required<RetryPolicy>;

/** Settings of the durable stores (engine-store.ts). */
interface DurableStoreOptions {
  /**
   * How long a claimed job stays leased to this engine without a renewal (renewed every third of
   * it): after a crash, its jobs run again once this has passed. Default 30 s.
   */
  readonly leaseTtlMs?: number;
  /** Queued jobs (not running ones) above which an enqueue is refused. Default 1,000,000. */
  readonly capacity?: number;
}

/**
 * Where the engine keeps its queue: `memory` (the default; fastest, lost with the process), a
 * SQLite file, or a Postgres database. A string is shorthand: `'memory'`, a `postgres://` or
 * `postgresql://` URL, or else a SQLite file path.
 */
export type EngineStoreOptions =
  | string
  | { readonly kind: 'memory' }
  | (DurableStoreOptions & {
      readonly kind: 'sqlite';
      readonly path: string;
      /** `normal` (default): commits survive a process crash; `full`: also a power loss. */
      readonly synchronous?: 'normal' | 'full';
      /**
       * How long a write waits for another process's lock on the file before it fails with
       * VK_STORE_LOCKED. Default 5 s, as `VALKYRIE_SQLITE_BUSY_TIMEOUT` for the CLI.
       */
      readonly busyTimeoutMs?: number;
    })
  | (DurableStoreOptions & {
      readonly kind: 'postgres';
      readonly url: string;
      /** A schema of Valkyrie's own, created when missing. */
      readonly schema?: string;
      /**
       * After how long a call Postgres has not answered is reported as a `store.stalled` event (a
       * server that hangs, or a network that drops its packets, otherwise leaves jobs waiting without a
       * word). Default 10 s.
       */
      readonly stalledAfterMs?: number;
    });

export interface EngineOptions {
  /** Default `'memory'`. */
  readonly store?: EngineStoreOptions;
  /** Options of the thread pool the engine creates and owns, or a pool the caller owns and closes. */
  readonly pool?: ThreadPoolOptions | ThreadPool;
  /** Jobs handed to the pool at once; the rest wait in the engine's queue in priority order. */
  readonly maxInFlight?: number;
  /**
   * How long a waiting job takes to rank with the next priority up (core/priority.ts): a whole
   * number of ms above 0, default 60 000; on a durable store it also orders the jobs this engine
   * stores. 0 is refused (VK_ENGINE_CONFIG): it would ignore priorities.
   */
  readonly agingIntervalMs?: number;
  /** Applies to every job; a job's own `retry` overrides it field by field. */
  readonly retry?: RetryPolicy;
  /** Time for delays and aging; tests pass a clock they move by hand. */
  readonly clock?: Clock;
  /**
   * `false`: a producer. The engine only adds jobs to its durable store — by task name, no
   * `engine.task()` needed — and never claims or runs any: the engines of worker processes on the
   * same store run them. It starts no thread pool. Default `true`.
   */
  readonly runJobs?: boolean;
}

export interface JobOptions {
  /** Default `normal`. */
  readonly priority?: Priority;
  /** Not started before this many ms from now. */
  readonly delayMs?: number;
  /** Per attempt, from when the attempt starts in its worker; the pool's `taskTimeoutMs` by default. */
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
  /**
   * A second enqueue with the same key returns the first job's handle: within 24 hours of the first on
   * the in-memory store; on a durable store, within the store's 24-hour window, across engines.
   */
  readonly idempotencyKey?: string;
  /** Aborting it cancels the job, as `engine.cancel(job, reason)` does (the signal's reason, if a string). */
  readonly signal?: AbortSignal;
}

export const retryDefaults: ResolvedRetryPolicy = Object.freeze({
  maxAttempts: 3,
  delayMs: 0,
  backoff: 'fixed',
  maxDelayMs: 5 * 60_000,
  jitter: 0,
  retryOn: Object.freeze(['worker_lost'] as const),
});

const retryableKinds: readonly RetryableKind[] = ['threw', 'timed_out', 'worker_lost'];

export type ResolvedStoreOptions =
  | { readonly kind: 'memory' }
  | {
      readonly kind: 'sqlite';
      readonly path: string;
      readonly synchronous: 'normal' | 'full';
      readonly busyTimeoutMs: number;
      readonly leaseTtlMs: number;
      readonly capacity: number;
    }
  | {
      readonly kind: 'postgres';
      readonly url: string;
      readonly schema: string | undefined;
      readonly stalledAfterMs: number;
      readonly leaseTtlMs: number;
      readonly capacity: number;
    };

const storeDefaults = { leaseTtlMs: 30_000, capacity: 1_000_000 };
/** As the CLI's notice of a Postgres that does not answer. */
const defaultStalledAfterMs = 10_000;

function resolveStoreOptions(store: EngineStoreOptions | undefined): ResolvedStoreOptions {
  const where = 'openEngine(): option "store"';
  if (store === undefined || store === 'memory') return { kind: 'memory' };
  if (typeof store === 'string') {
    if (store === '' || foreignUrlScheme(store) !== undefined)
      fail(where, "'memory', a postgres:// URL or a SQLite file path", store);
    return isPostgresUrl(store)
      ? {
          kind: 'postgres',
          url: store,
          schema: undefined,
          stalledAfterMs: defaultStalledAfterMs,
          ...storeDefaults,
        }
      : {
          kind: 'sqlite',
          path: store,
          synchronous: 'normal',
          busyTimeoutMs: defaultBusyTimeoutMs,
          ...storeDefaults,
        };
  }
  checkOptionsObject(where, store, 'a string or an object');
  if (store.kind === 'memory' || store.kind === 'sqlite' || store.kind === 'postgres') {
    checkOptionNames(where, store, `${store.kind}Store`);
  }
  if (store.kind === 'memory') return { kind: 'memory' };
  const durable = {
    leaseTtlMs:
      store.leaseTtlMs === undefined
        ? storeDefaults.leaseTtlMs
        : checkBoundedCount(`${where}.leaseTtlMs`, store.leaseTtlMs, largestLeaseTtlMs),
    capacity:
      store.capacity === undefined ? storeDefaults.capacity : checkCount(`${where}.capacity`, store.capacity),
  };
  if (store.kind === 'sqlite') {
    if (typeof store.path !== 'string' || store.path === '') fail(`${where}.path`, 'a file path', store.path);
    const synchronous = store.synchronous ?? 'normal';
    if (synchronous !== 'normal' && synchronous !== 'full') {
      fail(`${where}.synchronous`, "'normal' or 'full'", synchronous);
    }
    const busyTimeoutMs =
      store.busyTimeoutMs === undefined
        ? defaultBusyTimeoutMs
        : checkDelay(`${where}.busyTimeoutMs`, store.busyTimeoutMs);
    return { kind: 'sqlite', path: store.path, synchronous, busyTimeoutMs, ...durable };
  }
  if (store.kind === 'postgres') {
    if (typeof store.url !== 'string' || !isPostgresUrl(store.url)) {
      fail(`${where}.url`, 'a postgres:// URL', store.url);
    }
    const stalledAfterMs =
      store.stalledAfterMs === undefined
        ? defaultStalledAfterMs
        : checkCount(`${where}.stalledAfterMs`, store.stalledAfterMs);
    return { kind: 'postgres', url: store.url, schema: store.schema, stalledAfterMs, ...durable };
  }
  return fail(`${where}.kind`, "'memory', 'sqlite' or 'postgres'", (store as { kind?: unknown }).kind);
}

export function resolveRetry(
  where: string,
  policy: RetryPolicy | undefined,
  base: ResolvedRetryPolicy,
): ResolvedRetryPolicy {
  if (policy === undefined) return base;
  checkOptionsObject(where, policy);
  checkOptionNames(where, policy, 'retry');
  const retryOn = policy.retryOn ?? base.retryOn;
  if (!Array.isArray(retryOn) || retryOn.some((kind) => !retryableKinds.includes(kind))) {
    fail(`${where}.retryOn`, `a list of ${retryableKinds.map((k) => `'${k}'`).join(', ')}`, retryOn);
  }
  return Object.freeze({
    maxAttempts:
      policy.maxAttempts === undefined
        ? base.maxAttempts
        : checkBoundedCount(`${where}.maxAttempts`, policy.maxAttempts, largestMaxAttempts),
    delayMs: policy.delayMs === undefined ? base.delayMs : checkDelay(`${where}.delayMs`, policy.delayMs),
    backoff: policy.backoff === undefined ? base.backoff : checkBackoff(`${where}.backoff`, policy.backoff),
    maxDelayMs:
      policy.maxDelayMs === undefined
        ? base.maxDelayMs
        : checkBoundedDelay(`${where}.maxDelayMs`, policy.maxDelayMs),
    jitter: policy.jitter === undefined ? base.jitter : checkJitter(`${where}.jitter`, policy.jitter),
    retryOn: Object.freeze([...retryOn]),
  });
}

export interface ResolvedJobOptions {
  readonly priority: Priority;
  readonly delayMs: number;
  readonly timeoutMs: number | undefined;
  readonly retry: ResolvedRetryPolicy;
  readonly idempotencyKey: string | undefined;
}

const defaultsByRetry = new WeakMap<ResolvedRetryPolicy, ResolvedJobOptions>();

/** One frozen object per engine policy: most jobs carry no options, and need not allocate any. */
function defaultJobOptions(retry: ResolvedRetryPolicy): ResolvedJobOptions {
  let defaults = defaultsByRetry.get(retry);
  if (defaults === undefined) {
    defaults = Object.freeze({
      priority: defaultPriority,
      delayMs: 0,
      timeoutMs: undefined,
      retry,
      idempotencyKey: undefined,
    });
    defaultsByRetry.set(retry, defaults);
  }
  return defaults;
}

export function resolveJobOptions(
  where: string,
  options: JobOptions | undefined,
  retry: ResolvedRetryPolicy,
): ResolvedJobOptions {
  if (options === undefined) return defaultJobOptions(retry);
  checkOptionsObject(where, options);
  checkOptionNames(where, options, 'job');
  const priority = options.priority ?? defaultPriority;
  if (!isPriority(priority))
    fail(`${where}.priority`, "'critical', 'high', 'normal', 'low' or 'background'", priority);
  const timeoutMs = options.timeoutMs;
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) {
    fail(`${where}.timeoutMs`, 'a number > 0 or Infinity', timeoutMs);
  }
  const key = options.idempotencyKey;
  if (key !== undefined && (typeof key !== 'string' || key === '')) {
    fail(`${where}.idempotencyKey`, 'a non-empty string', key);
  }
  // The durable stores' rule on every store, so that a key is refused at the call, not job by job.
  if (key !== undefined && idempotencyKeyProblem(key) !== undefined) {
    const shown = key.length > 40 ? `a key of ${Buffer.byteLength(key)} bytes` : JSON.stringify(key);
    fail(
      `${where}.idempotencyKey`,
      `at most ${largestIdempotencyKeyBytes} bytes (UTF-8), without NUL or lone surrogates`,
      shown,
    );
  }
  return {
    priority,
    delayMs: options.delayMs === undefined ? 0 : checkBoundedDelay(`${where}.delayMs`, options.delayMs),
    timeoutMs,
    retry: resolveRetry(`${where}.retry`, options.retry, retry),
    idempotencyKey: key,
  };
}

export interface ResolvedEngineOptions {
  readonly store: ResolvedStoreOptions;
  readonly maxInFlight: number | undefined;
  readonly agingIntervalMs: number;
  readonly retry: ResolvedRetryPolicy;
  readonly clock: Clock;
  readonly runJobs: boolean;
}

export function resolveEngineOptions(options: EngineOptions): ResolvedEngineOptions {
  checkOptionsObject(
    'openEngine(options)',
    options,
    'an object of options',
    ': register each task with engine.task(name, { module, exportName? }) once the engine is open',
  );
  checkOptionNames('openEngine(options)', options, 'engine');
  const store = resolveStoreOptions(options.store);
  const runJobs = options.runJobs ?? true;
  if (typeof runJobs !== 'boolean') fail('openEngine(): option "runJobs"', 'true or false', runJobs);
  if (!runJobs && store.kind === 'memory') {
    throw new ValkyrieError(
      'VK_ENGINE_CONFIG',
      'openEngine(): option "runJobs": false needs a durable store (a SQLite file or a Postgres URL) that worker processes share; on the in-memory store nothing else could run the jobs',
    );
  }
  if (!runJobs && options.pool !== undefined) {
    throw new ValkyrieError(
      'VK_ENGINE_CONFIG',
      'openEngine(): option "pool" is for an engine that runs jobs; with runJobs: false the engine starts no thread pool',
    );
  }
  return Object.freeze({
    runJobs,
    store,
    maxInFlight:
      options.maxInFlight === undefined
        ? undefined
        : checkCount('openEngine(): option "maxInFlight"', options.maxInFlight),
    agingIntervalMs:
      options.agingIntervalMs === undefined
        ? defaultAgingIntervalMs
        : checkAgingInterval(options.agingIntervalMs),
    retry: resolveRetry('openEngine(): option "retry"', options.retry, retryDefaults),
    clock: options.clock === undefined ? systemClock : checkClock(options.clock),
  });
}

/**
 * 0 is refused, as the CLI's --aging-interval 0 is: it does not turn aging off but priorities — a job
 * ranks by `readyAt + level × interval` (core/priority.ts), so every job would rank by arrival alone.
 * Priorities that never age (BullMQ's, graphile-worker's) are what a user writing 0 would expect,
 * and the message says how near to them a long interval comes.
 */
function checkAgingInterval(value: unknown): number {
  // Whole, as the durable stores keep their queue keys as integers.
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    fail(
      'openEngine(): option "agingIntervalMs"',
      'a whole number of milliseconds above 0: how long a waiting job takes to rank with the next priority up ' +
        '(0 would rank every job by its arrival alone, ignoring priorities; for priorities that ' +
        'practically never age, as in BullMQ or graphile-worker, give a long interval such as ' +
        '86_400_000, a day)',
      value,
    );
  }
  return value;
}

function checkClock(clock: unknown): Clock {
  const candidate = clock as Partial<Clock> | null;
  if (
    typeof clock !== 'object' ||
    candidate === null ||
    typeof candidate.now !== 'function' ||
    typeof candidate.setTimer !== 'function'
  ) {
    fail('openEngine(): option "clock"', 'an object with now() and setTimer() (a Clock)', clock);
  }
  return clock as Clock;
}
