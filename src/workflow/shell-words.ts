/**
 * Splits a custom `shell:` into the program and its arguments the way a POSIX shell splits words,
 * without expanding anything (no shell is involved: the words go to the program as they are):
 *
 * - Outside quotes, runs of spaces, tabs and newlines separate words; `\` makes the next character
 *   literal (`a\ b` is one word), a backslash-newline is removed, a backslash at the very end stays.
 * - `'…'` keeps everything up to the next `'` literally; there is no escape inside single quotes.
 * - `"…"` keeps everything literally except that `\` escapes `"`, `\`, `$`, `` ` `` and a newline
 *   (removed); before any other character the backslash stays.
 * - Quoted and unquoted pieces next to each other make one word (`a"b c"d` is `ab cd`); `""` is an
 *   empty word.
 * - `$`, `` ` ``, `~`, `*`, `|`, `;`, `>` and the like are ordinary characters: to use them as a shell
 *   would, run one (`sh -c "cat {0} | wc -l"`).
 *
 * GitHub's runner splits the arguments honouring only double quotes and `\"`, so the two agree on a
 * shell that quotes with `"` and escapes nothing but quotes; single quotes, which GitHub passes on as
 * characters, group and disappear here, as a POSIX user expects.
 */
export type ShellWords =
  | { readonly ok: true; readonly words: readonly string[] }
  /** `offset` is that of the quote left open, in the text split. */
  | { readonly ok: false; readonly message: string; readonly offset: number };

const space = new Set([' ', '\t', '\n', '\r']);
const escapedInDoubleQuotes = new Set(['"', '\\', '$', '`', '\n']);

export function splitShellWords(text: string): ShellWords {
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  while (i < text.length) {
    const char = text.charAt(i);
    if (space.has(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
      i += 1;
    } else if (char === '\\') {
      const next = text.charAt(i + 1);
      if (next === '\n') word ??= '';
      else word = (word ?? '') + (next === '' ? '\\' : next);
      i += 2;
    } else if (char === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) return unterminated('single', i);
      word = (word ?? '') + text.slice(i + 1, close);
      i = close + 1;
    } else if (char === '"') {
      const quoted = doubleQuoted(text, i + 1);
      if (quoted === undefined) return unterminated('double', i);
      word = (word ?? '') + quoted.value;
      i = quoted.end + 1;
    } else {
      word = (word ?? '') + char;
      i += 1;
    }
  }
  if (word !== undefined) words.push(word);
  return { ok: true, words };
}

/** The value of a double-quoted string whose text starts at `start`, and the offset of its closing quote. */
function doubleQuoted(text: string, start: number): { value: string; end: number } | undefined {
  let value = '';
  let i = start;
  while (i < text.length) {
    const char = text.charAt(i);
    if (char === '"') return { value, end: i };
    const next = text.charAt(i + 1);
    if (char === '\\' && escapedInDoubleQuotes.has(next)) {
      if (next !== '\n') value += next;
      i += 2;
    } else {
      value += char;
      i += 1;
    }
  }
  return undefined;
}

function unterminated(kind: 'single' | 'double', offset: number): ShellWords {
  const quote = kind === 'single' ? "'" : '"';
  return {
    ok: false,
    message: `the ${kind} quote (${quote}) at character ${offset + 1} is never closed`,
    offset,
  };
}
