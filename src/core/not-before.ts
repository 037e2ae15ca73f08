import { parseDuration } from './duration.js';

/** When a delayed job may start: at a moment, or some time after its run started. */
export type NotBefore =
  | { readonly kind: 'at'; readonly at: number }
  | { readonly kind: 'after'; readonly ms: number };

/** A calendar date, optionally with a time and an offset (without one, the local time zone applies). */
const timestampPattern =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** Parses `2026-05-01T12:00:00Z`, `30s`, `5m` or a number of seconds; undefined when it is neither. */
export function parseNotBefore(value: string | number): NotBefore | undefined {
  const duration = parseDuration(value);
  if (duration !== undefined) return { kind: 'after', ms: duration };
  if (typeof value !== 'string' || !timestampPattern.test(value.trim())) return undefined;
  const at = Date.parse(value.trim());
  return Number.isFinite(at) ? { kind: 'at', at } : undefined;
}

/** The moment (ms since the epoch) for a run that started at `runStartedAt`. */
export function notBeforeTime(notBefore: NotBefore, runStartedAt: number): number {
  return notBefore.kind === 'at' ? notBefore.at : runStartedAt + notBefore.ms;
}

/** What a valid value looks like, for error messages. */
export const notBeforeHint =
  'an ISO 8601 timestamp such as 2026-05-01T12:00:00Z, or a duration after the run starts such as 30s or 5m';
