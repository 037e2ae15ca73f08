import { durationHint, parseDuration } from '../core/duration.js';
import { readIdempotencyKey } from '../core/idempotency-key-syntax.js';
import { maxDelayMs, notBeforeHint, notBeforeTime, parseNotBefore } from '../core/not-before.js';
import { defaultAgingIntervalMs, isPriority, type Priority, priorities } from '../core/priority.js';
import { largestIdempotencyKeyBytes } from '../store/idempotency-key.js';
import { defaultQueueCapacity } from '../store/submissions.js';
import { closestMatch } from '../workflow/diagnostics.js';
import { UsageError } from './exit-codes.js';

/** `valkyrie run`'s queue options as commander hands them over: all optional, all text. */
export interface QueueFlags {
  readonly priority?: string;
  readonly notBefore?: string;
  readonly agingInterval?: string;
  readonly queueCapacity?: string;
  readonly idempotencyKey?: string;
  readonly idempotencyWindow?: string;
}

/** The same, validated and resolved. */
export interface QueueSettings {
  readonly priority?: Priority;
  /** Ms since the epoch. */
  readonly notBefore?: number;
  readonly agingIntervalMs: number;
  readonly queueCapacity: number;
  /** `fingerprint`: the request's (cli/run-fingerprint.ts), added once the workflow is read. */
  readonly idempotency?: { readonly key: string; readonly windowMs: number; readonly fingerprint?: string };
}

export const defaultIdempotencyWindowMs = 24 * 3_600_000;

/**
 * A near miss's "did you mean": a priority in another case is refused, not taken, as the workflow's
 * `priority:` refuses it (its values are lower-case, as the docs write them), but named.
 */
function priorityHint(value: string): string {
  const lower = value.toLowerCase();
  if (isPriority(lower)) return ` (did you mean ${lower}? priorities are lower-case)`;
  const near = closestMatch(value, priorities);
  return near === undefined ? '' : ` (did you mean ${near}?)`;
}

/** Validates at the edge; a bad value names the option and what was received. `now` resolves durations. */
export function parseQueueFlags(flags: QueueFlags, now: number): QueueSettings {
  const received = (value: string) => `received ${JSON.stringify(value)}`;
  let priority: Priority | undefined;
  if (flags.priority !== undefined) {
    if (!isPriority(flags.priority))
      throw new UsageError(
        `--priority must be one of ${priorities.join(', ')}, ${received(flags.priority)}${priorityHint(flags.priority)}`,
      );
    priority = flags.priority;
  }
  let notBefore: number | undefined;
  if (flags.notBefore !== undefined) {
    const parsed = parseNotBefore(flags.notBefore);
    if (!parsed) throw new UsageError(`--not-before must be ${notBeforeHint}, ${received(flags.notBefore)}`);
    notBefore = notBeforeTime(parsed, now);
  }
  const duration = (option: string, value: string | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    const ms = parseDuration(value);
    // Past 100 years neither does anything a shorter one would not; --aging-interval 99999999999999h
    // was refused by the control plane, naming its own option rather than the flag.
    if (ms === undefined || ms <= 0 || ms > maxDelayMs)
      throw new UsageError(
        `${option} must be ${durationHint}, above 0 and at most 100 years, ${received(value)}`,
      );
    return ms;
  };
  const agingIntervalMs = duration('--aging-interval', flags.agingInterval, defaultAgingIntervalMs);
  const windowMs = duration('--idempotency-window', flags.idempotencyWindow, defaultIdempotencyWindowMs);
  const queueCapacity = queueCapacityFlag(flags.queueCapacity);
  const key = idempotencyKeyFlag(flags.idempotencyKey);
  // Postgres's unique index on the key holds no entry past about 2.7 kB: a key of 4,000 characters
  // failed there with 'index row size 4016 exceeds btree version 4 maximum 2704'. The queue's bound.
  const keyBytes = key === undefined ? 0 : Buffer.byteLength(key);
  if (keyBytes > largestIdempotencyKeyBytes)
    throw new UsageError(
      `--idempotency-key must be at most ${largestIdempotencyKeyBytes} bytes (UTF-8), received ${keyBytes}`,
    );
  if (key === undefined && flags.idempotencyWindow !== undefined)
    throw new UsageError('--idempotency-window needs --idempotency-key');
  return {
    priority,
    notBefore,
    agingIntervalMs,
    queueCapacity,
    idempotency: key === undefined ? undefined : { key, windowMs },
  };
}

/**
 * `--idempotency-key K` of `valkyrie run` and `valkyrie submit`: the key as the server reads its
 * Idempotency-Key header, so `'"abc"'` (the draft's quoted form) is the key abc here too, and one that
 * begins with a quote but is no whole quoted string is refused, naming the option.
 */
function idempotencyKeyFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new UsageError('--idempotency-key must not be empty');
  const read = readIdempotencyKey(value);
  if ('problem' in read) throw new UsageError(`--idempotency-key: ${read.problem}`);
  return read.key;
}

/** `--queue-capacity N` (`valkyrie run`, `valkyrie server`): a positive integer, default 10,000. */
export function queueCapacityFlag(value: string | undefined): number {
  if (value === undefined) return defaultQueueCapacity;
  const capacity = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(capacity) || capacity < 1)
    throw new UsageError(`--queue-capacity must be a positive integer, received ${JSON.stringify(value)}`);
  return capacity;
}
