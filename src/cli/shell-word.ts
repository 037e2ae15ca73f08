import { visible } from '../core/visible-text.js';

/** Characters a POSIX shell takes as part of a word without quoting. */
const plainWord = /^[\w@%+=:,./-]+$/u;

/**
 * `text` as one word of a command a user can paste into a shell (bash, zsh), for the hints Valkyrie
 * prints: as it is when nothing in it is special, in single quotes otherwise (`'build (linux)'`,
 * `'it'\''s'`), and as an ANSI-C string (`$'a\tb'`) when it holds control characters, which
 * single quotes would print raw: they could move the cursor or forge a line (visible-text.ts).
 */
export function shellWord(text: string): string {
  if (plainWord.test(text)) return text;
  if (/\p{Cc}/u.test(text)) return `$'${visible(text.replace(/[\\']/gu, (char) => `\\${char}`))}'`;
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
