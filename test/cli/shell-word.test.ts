import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/shell-word.js';

/** What bash makes of `word`: the one argument a pasted hint would pass. */
function bashArgument(word: string): string {
  return execFileSync('bash', ['-c', `printf %s ${word}`], { encoding: 'utf8' });
}

describe('shellWord', () => {
  it('leaves a plain name as it is', () => {
    expect(shellWord('build')).toBe('build');
    expect(shellWord('test-1.2_x')).toBe('test-1.2_x');
  });

  it('quotes what a shell would split, expand or glob, and bash reads back the same text', () => {
    const names = ['build (linux)', "it's", 'a b', '$HOME', '*', '`id`', 'x;y', '"q"', 'back\\slash', ''];
    for (const name of names) expect(bashArgument(shellWord(name))).toBe(name);
    expect(shellWord('build (linux)')).toBe("'build (linux)'");
    expect(shellWord("it's")).toBe("'it'\\''s'");
  });

  it('prints control characters escaped, as an ANSI-C string bash reads back to them', () => {
    const names = ['a\tb', 'line\nbreak', '\u001b[31mred', "tab\t'quote'\\"];
    for (const name of names) {
      const word = shellWord(name);
      expect(word).not.toMatch(/\p{Cc}/u);
      expect(bashArgument(word)).toBe(name);
    }
    expect(shellWord('a\tb')).toBe("$'a\\tb'");
  });
});
