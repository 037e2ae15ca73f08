/**
 * How many terminal columns text takes, as wcwidth counts them: East Asian wide and fullwidth
 * characters and emoji take two, combining marks and zero-width characters none, the rest one.
 * Counting UTF-16 units instead misaligned tables by a column per CJK character, and cut emoji in half.
 */

/**
 * Marks drawn on the character before them (variation selectors among them), and the zero-width
 * space, joiners and direction marks.
 */
const zeroWidth = /^[\p{Mn}\p{Me}\u200b-\u200f\u2060]$/u;
/** Emoji a terminal draws two columns wide (those that are emoji, not text, by default). */
const emoji = /^\p{Emoji_Presentation}$/u;

/** The blocks of East Asian wide and fullwidth characters (Unicode's EastAsianWidth W and F), merged. */
const wideRanges: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];

/** The columns one code point takes: 0, 1 or 2. */
export function charWidth(char: string): number {
  const code = char.codePointAt(0) ?? 0;
  // Printable ASCII, the common case, without a regular expression.
  if (code >= 0x20 && code < 0x7f) return 1;
  if (zeroWidth.test(char)) return 0;
  if (emoji.test(char)) return 2;
  for (const [first, last] of wideRanges) {
    if (code < first) return 1;
    if (code <= last) return 2;
  }
  return 1;
}

/** The columns `text` takes (without escape sequences: strip them first). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += charWidth(char);
  return width;
}

/** `text` followed by spaces up to `width` columns, as padEnd does by UTF-16 units. */
export function padToWidth(text: string, width: number): string {
  const missing = width - displayWidth(text);
  return missing > 0 ? text + ' '.repeat(missing) : text;
}

/**
 * Cuts a line to the terminal width less one column, ignoring the width of colour escapes, counting
 * wide characters as two and never cutting one in half: a line that wrapped would break the redraw.
 */
export function truncateToWidth(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; ) {
    if (line[i] === '\u001b') {
      // Colour escapes only (the lines' own were made visible): one without its end ends the line.
      const end = line.indexOf('m', i);
      if (end < 0) break;
      out += line.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    const code = line.codePointAt(i) ?? 0;
    const char = String.fromCodePoint(code);
    i += char.length;
    const columns = charWidth(char);
    if (visible + columns > width - 1) continue;
    out += char;
    visible += columns;
  }
  return out;
}
