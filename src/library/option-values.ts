import { inspect } from 'node:util';
import { ValkyrieError } from '../core/errors.js';
import { maxDelayMs } from '../core/not-before.js';
import { type Backoff, backoffKinds } from '../core/retry-delay.js';

/** Checks of one option value each: every one throws VK_ENGINE_CONFIG naming where and what came. */

export function fail(where: string, expected: string, received: unknown): never {
  throw new ValkyrieError(
    'VK_ENGINE_CONFIG',
    `${where} must be ${expected}; received ${shownValue(received)}`,
  );
}

/**
 * A value a caller gave, as a message shows it: a string in quotes, anything else as `util.inspect`
 * does, on one line. Not String(): it shows an object as "[object Object]", a BigInt as the number
 * it holds (`1000n` as "1000"), and throws for an object without a prototype.
 */
export function shownValue(received: unknown): string {
  if (typeof received === 'string') return `'${received}'`;
  return inspect(received, { depth: 1, breakLength: Number.POSITIVE_INFINITY }).slice(0, 200);
}

/**
 * Throws unless `value` is an options object. An array is an object to `typeof`, and its index
 * keys are no option names, so an empty one passed for "no options" as `{}` (a job's retry or
 * priority given as `[{ … }]` was silently dropped) and a longer one was refused for its key "0".
 */
export function checkOptionsObject(
  where: string,
  value: unknown,
  expected = 'an object',
  afterArray = '',
): asserts value is object {
  if (typeof value !== 'object' || value === null) fail(where, expected, value);
  if (Array.isArray(value)) fail(where, `${expected}, not an array${afterArray}`, value);
}

export function checkCount(where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    fail(where, 'an integer ≥ 1', value);
  return value;
}

/** A delay or a close() deadline: a finite number ≥ 0, returned; anything else is refused where it was given. */
export function checkDelay(where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(where, 'a number ≥ 0', value);
  return value;
}

/**
 * A count the stores bound (largestLeaseTtlMs, largestMaxAttempts): past it, a value taken here
 * failed later in the store, job by job or claim after claim.
 */
export function checkBoundedCount(where: string, value: unknown, largest: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > largest)
    fail(where, `an integer from 1 to ${largest}`, value);
  return value;
}

/** A delay before a job (or its retry) may start: past 100 years, as `not-before:`, its time leaves the stores' range. */
export function checkBoundedDelay(where: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > maxDelayMs)
    fail(where, `a number from 0 to ${maxDelayMs} (100 years)`, value);
  return value;
}

export function checkBackoff(where: string, value: unknown): Backoff {
  const kind = backoffKinds.find((candidate) => candidate === value);
  if (kind === undefined) fail(where, `one of ${backoffKinds.map((k) => `'${k}'`).join(', ')}`, value);
  return kind;
}

export function checkJitter(where: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) fail(where, 'a number from 0 to 1', value);
  return value;
}
