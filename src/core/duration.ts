/**
 * Durations as users write them: `250ms`, `2s`, `1m`, `1h`, `1.5s`, or a plain number of seconds.
 * Returns whole milliseconds, or undefined when the text is not a duration (callers name the path).
 */
const units: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A retention is kept for days as often as hours, so it takes days too (parseRetention). */
const retentionUnits: Readonly<Record<string, number>> = { ...units, d: 86_400_000 };

const durationPattern = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/;

export function parseDuration(value: string | number): number | undefined {
  // Whole milliseconds, as the text forms give: the stores keep delays and timeouts as integers.
  if (typeof value === 'number')
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  return parseText(value, units);
}

/** A retention (how long something unused is kept): any duration, or days such as `7d` or `1.5d`. */
export function parseRetention(value: string): number | undefined {
  return parseText(value, retentionUnits);
}

function parseText(value: string, known: Readonly<Record<string, number>>): number | undefined {
  const match = durationPattern.exec(value);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = known[match[2] ?? 's'];
  return unit === undefined ? undefined : Math.round(amount * unit);
}

/** What a valid duration looks like, for error messages. */
export const durationHint = 'a duration such as 250ms, 2s, 1m or 1h, or a number of seconds';

/** What a valid retention looks like, for error messages. */
export const retentionHint = 'a duration such as 7d, 12h or 30m';
