import { parseDuration } from './duration.js';

/** When a delayed job may start: at a moment, or some time after its run started. */
export type NotBefore =
  | { readonly kind: 'at'; readonly at: number }
  | { readonly kind: 'after'; readonly ms: number };

/** A calendar date, optionally with a time and an offset (without one, the local time zone applies). */
const timestampPattern =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** The longest delay taken: past it a job would wait for ever, and its time overflows a date. */
export const maxDelayMs = 100 * 366 * 24 * 3_600_000;

/**
 * Parses `2026-05-01T12:00:00Z`, `30s`, `5m` or a number of seconds (at most 100 years); undefined
 * when it is neither, or names a day the month does not have (Date would roll 02-30 over to March).
 */
export function parseNotBefore(value: string | number): NotBefore | undefined {
  const duration = parseDuration(value);
  if (duration !== undefined) return duration <= maxDelayMs ? { kind: 'after', ms: duration } : undefined;
  if (typeof value !== 'string' || !timestampPattern.test(value.trim())) return undefined;
  const text = value.trim();
  const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined;
  const at = Date.parse(localIfDateOnly(withMinutes(text)));
  return Number.isFinite(at) ? { kind: 'at', at } : undefined;
}

/**
 * Date.parse takes a date alone as UTC midnight, a date with a time and no offset as local time:
 * `2026-05-01` was 2026-04-30 20:00 in New York while `2026-05-01T00:00` was midnight there. Both are
 * local, as ISO 8601 and the docs say a value without an offset is.
 */
function localIfDateOnly(text: string): string {
  return text.length === 10 ? `${text}T00:00` : text;
}

/** ISO 8601 lets an offset name hours only (`+05`), which Date.parse refuses: it is `+05:00`. */
function withMinutes(text: string): string {
  return /[+-]\d{2}$/.test(text) && text.length > 10 ? `${text}:00` : text;
}

/** The moment (ms since the epoch) for a run that started at `runStartedAt`. */
export function notBeforeTime(notBefore: NotBefore, runStartedAt: number): number {
  return notBefore.kind === 'at' ? notBefore.at : runStartedAt + notBefore.ms;
}

/** What a valid value looks like, for error messages. */
export const notBeforeHint =
  'an ISO 8601 timestamp such as 2026-05-01T12:00:00Z, or a duration after the run starts such as 30s or 5m (at most 100 years)';
