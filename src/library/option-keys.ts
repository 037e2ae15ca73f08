import { ValkyrieError } from '../core/errors.js';
import { closestMatch } from '../workflow/diagnostics.js';

/**
 * The option names of each object the library takes, and what a caller used to another queue most
 * likely meant by a name of its (BullMQ's `attempts`, `backoff`, `delay`, `jobId`, …): an unknown
 * name is refused rather than ignored, which would silently drop the setting (no retries, the
 * in-memory store).
 */
export const optionNames = {
  engine: ['store', 'runJobs', 'pool', 'maxInFlight', 'agingIntervalMs', 'retry', 'clock'],
  memoryStore: ['kind'],
  sqliteStore: ['kind', 'path', 'synchronous', 'busyTimeoutMs', 'leaseTtlMs', 'capacity'],
  postgresStore: ['kind', 'url', 'schema', 'leaseTtlMs', 'capacity', 'stalledAfterMs'],
  job: ['priority', 'delayMs', 'timeoutMs', 'retry', 'idempotencyKey', 'signal'],
  retry: ['maxAttempts', 'delayMs', 'backoff', 'maxDelayMs', 'jitter', 'retryOn'],
  request: ['task', 'input', 'options'],
  node: ['id', 'task', 'input', 'options'],
  edge: ['from', 'to'],
} as const;

type Kind = keyof typeof optionNames;

const otherNames: { readonly [K in Kind]?: Readonly<Record<string, string>> } = {
  engine: { concurrency: 'pool.maxThreads', connection: 'store', attempts: 'retry.maxAttempts' },
  sqliteStore: { file: 'path', filename: 'path', busyTimeout: 'busyTimeoutMs', leaseTtl: 'leaseTtlMs' },
  postgresStore: { connectionString: 'url', leaseTtl: 'leaseTtlMs' },
  job: {
    attempts: 'retry.maxAttempts',
    backoff: 'retry.backoff and retry.delayMs',
    delay: 'delayMs',
    timeout: 'timeoutMs',
    jobId: 'idempotencyKey',
    jobKey: 'idempotencyKey',
    maxAttempts: 'retry.maxAttempts',
    runAt: 'delayMs, in milliseconds from now',
  },
  retry: { attempts: 'maxAttempts', delay: 'delayMs', type: 'backoff', maxDelay: 'maxDelayMs' },
  request: { name: 'task', data: 'input', payload: 'input', opts: 'options' },
  node: { name: 'id', data: 'input', payload: 'input', opts: 'options', needs: 'edges', dependsOn: 'edges' },
  edge: { source: 'from', target: 'to', parent: 'from', child: 'to' },
};

/**
 * Throws VK_ENGINE_CONFIG at `where` (`where[index]` given an index) for the first own key of `value`
 * that `kind` does not name. The index is joined only for the message: per request it would cost.
 */
export function checkOptionNames(where: string, value: object, kind: Kind, index?: number): void {
  const known: readonly string[] = optionNames[kind];
  for (const key in value) {
    if (known.includes(key) || !Object.hasOwn(value, key)) continue;
    const meant = otherNames[kind]?.[key] ?? closestMatch(key, known);
    const hint = meant === undefined ? '' : ` (did you mean ${meant}?)`;
    throw new ValkyrieError(
      'VK_ENGINE_CONFIG',
      `${index === undefined ? where : `${where}[${index}]`} has no option "${key}"${hint}; its options are ${known.join(', ')}`,
    );
  }
}

/**
 * The own fields of `value` that `kind` names: a policy stored by a later Valkyrie may carry fields
 * this one does not know, and should keep the ones it does rather than be refused whole.
 */
export function knownFields<T>(value: T, kind: Kind): T {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const known: readonly string[] = optionNames[kind];
  return Object.fromEntries(Object.entries(value).filter(([key]) => known.includes(key))) as T;
}
