import { inspect } from 'node:util';
import { type ErrorCode, ValkyrieError } from './errors.js';

/**
 * The deadline of a `close(options)` (an engine's, a pool's): Infinity when none is given. Anything
 * but `{ deadlineMs? }` is an error, which close() rejects with: BullMQ's `close(true)` (force) or
 * a bare `close(5000)` would otherwise close with no deadline at all, waiting instead of ending.
 */
export function closeDeadline(code: ErrorCode, options: unknown): number | ValkyrieError {
  if (options === undefined) return Number.POSITIVE_INFINITY;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return new ValkyrieError(code, `close(): expected { deadlineMs? }; received ${inspect(options)}`);
  }
  for (const key in options) {
    if (key !== 'deadlineMs' && Object.hasOwn(options, key)) {
      return new ValkyrieError(code, `close(): unknown option "${key}" (known: deadlineMs)`);
    }
  }
  const deadlineMs: unknown = (options as { deadlineMs?: unknown }).deadlineMs ?? Number.POSITIVE_INFINITY;
  if (typeof deadlineMs === 'number' && !Number.isNaN(deadlineMs) && deadlineMs >= 0) return deadlineMs;
  return new ValkyrieError(
    code,
    `close(): "deadlineMs" must be a number ≥ 0 or Infinity; received ${String(deadlineMs)}`,
  );
}
