/**
 * Durations as users write them: `250ms`, `2s`, `1m`, `1h`, `1.5s`, or a plain number of seconds.
 * Returns whole milliseconds, or undefined when the text is not a duration (callers name the path).
 */
const units: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const durationPattern = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/;

export function parseDuration(value: string | number): number | undefined {
  // Whole milliseconds, as the text forms give: the stores keep delays and timeouts as integers.
  if (typeof value === 'number')
    return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  const match = durationPattern.exec(value);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = units[match[2] ?? 's'];
  return unit === undefined ? undefined : Math.round(amount * unit);
}

/** What a valid duration looks like, for error messages. */
export const durationHint = 'a duration such as 250ms, 2s, 1m or 1h, or a number of seconds';
