import { visible } from '../core/visible-text.js';

/** A problem found in a workflow file, with its position (1-based line and column). */
export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly line: number;
  readonly col: number;
}

/**
 * How many diagnostics are printed (`valkyrie run`, `validate`) or answered (the API's 400) at most:
 * a workflow of 60,000 unknown keys has 60,000 errors, and the first ones say what is wrong.
 */
export const maxShownDiagnostics = 100;

/**
 * Formats diagnostics as compilers do: `file:line:col: error: message`, then the offending line and a
 * caret under the column. Sorted by position so the output reads top to bottom. At most `max`, then
 * one line saying how many more there are (moreDiagnostics): past `max`, the errors by position and
 * then the warnings, so that warnings never hide the errors that refused the file.
 */
export function formatDiagnostics(
  file: string,
  source: string,
  diagnostics: readonly Diagnostic[],
  max = maxShownDiagnostics,
): string {
  const lines = source.split(/\r?\n/);
  const { sorted, shown: kept } = shownDiagnostics(diagnostics, max);
  const shown = kept.map((d) => {
    const { text, caretAt } = excerpt(lines[d.line - 1] ?? '', Math.max(0, d.col - 1));
    const caret = `${' '.repeat(caretAt)}^`;
    return `${file}:${d.line}:${d.col}: ${d.severity}: ${d.message}\n  ${text}\n  ${caret}`;
  });
  if (sorted.length > max) shown.push(`${file}: ${moreDiagnostics(sorted.slice(max), sorted.length)}`);
  return shown.join('\n');
}

/**
 * The diagnostics in the order they are printed (by position; past `max`, the errors first), and the
 * first `max` of them, which are shown: formatDiagnostics's text and `validate --json` list the same.
 */
export function shownDiagnostics(
  diagnostics: readonly Diagnostic[],
  max = maxShownDiagnostics,
): { sorted: Diagnostic[]; shown: Diagnostic[] } {
  const byPosition = [...diagnostics].sort((a, b) => a.line - b.line || a.col - b.col);
  const sorted =
    byPosition.length > max
      ? [
          ...byPosition.filter((d) => d.severity === 'error'),
          ...byPosition.filter((d) => d.severity !== 'error'),
        ]
      : byPosition;
  return { sorted, shown: sorted.slice(0, max) };
}

/** `59900 more errors and 1 more warning not shown (60001 in all)`: the diagnostics left out of a list. */
export function moreDiagnostics(omitted: readonly Diagnostic[], total: number): string {
  const errors = omitted.filter((d) => d.severity === 'error').length;
  const warnings = omitted.length - errors;
  const counts = [
    ...(errors > 0 ? [`${errors} more ${errors === 1 ? 'error' : 'errors'}`] : []),
    ...(warnings > 0 ? [`${warnings} more ${warnings === 1 ? 'warning' : 'warnings'}`] : []),
  ];
  return `${counts.join(' and ')} not shown (${total} in all)`;
}

const excerptWidth = 120;

/**
 * The line, or of a long one (a 150 KB line of brackets) the part around the column, `…` marking the
 * rest; its control characters escaped (`\x1b`), the caret moved past what they became: a file's line
 * printed as it is could clear or recolour the terminal, and a binary file's garbled it. The part is
 * chosen by its printed width, so that a line of control characters, each printed as four, is cut
 * as short as any other.
 */
function excerpt(line: string, column: number): { text: string; caretAt: number } {
  // A column may be past the line's end; it prints as spaces up to there.
  const past = Math.max(0, column - line.length);
  const at = Math.min(column, line.length);
  const whole = visible(line);
  if (whole.length <= excerptWidth) return { text: whole, caretAt: visible(line.slice(0, at)).length + past };
  const width = (i: number) => visible(line.charAt(i)).length;
  let start = at;
  let used = 0;
  while (start > 0 && used + width(start - 1) <= excerptWidth / 2) used += width(--start);
  let end = at;
  while (end < line.length && used + width(end) <= excerptWidth) used += width(end++);
  while (start > 0 && used + width(start - 1) <= excerptWidth) used += width(--start);
  const before = start > 0 ? '…' : '';
  const after = end < line.length ? '…' : '';
  return {
    text: `${before}${visible(line.slice(start, end))}${after}`,
    caretAt: before.length + visible(line.slice(start, at)).length + past,
  };
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Levenshtein distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest candidate within a distance that still looks like a typo, if any. */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    // Rewriting every letter of a short word is not a typo: "x" is not "on".
    if (distance < bestDistance && distance < word.length) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // The first word of a hyphenated key, written alone: `timeout` for `timeout-minutes`.
  const lower = word.toLowerCase();
  return (
    best ?? (word.length < 4 ? undefined : candidates.find((c) => c.toLowerCase().startsWith(`${lower}-`)))
  );
}
