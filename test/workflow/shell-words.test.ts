import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitShellWords } from '../../src/workflow/shell-words.js';

const words = (text: string) => {
  const split = splitShellWords(text);
  if (!split.ok) throw new Error(split.message);
  return split.words;
};

describe('splitShellWords', () => {
  it.each([
    ['perl -w {0}', ['perl', '-w', '{0}']],
    ['  bash \t -e\n{0}  ', ['bash', '-e', '{0}']],
    ['script -q -e -c "bash {0}"', ['script', '-q', '-e', '-c', 'bash {0}']],
    ['sh -c "cat {0} | wc -l"', ['sh', '-c', 'cat {0} | wc -l']],
    ["sh -c 'cat {0} | wc -l'", ['sh', '-c', 'cat {0} | wc -l']],
    [`sh -c 'say "hi"' {0}`, ['sh', '-c', 'say "hi"', '{0}']],
    [`sh -c "it's" {0}`, ['sh', '-c', "it's", '{0}']],
    ['a"b c"d', ['ab cd']],
    [`a'b c'"d e"f`, ['ab cd ef']],
    ['x "" y', ['x', '', 'y']],
    ["x '' y", ['x', '', 'y']],
    ['a\\ b c', ['a b', 'c']],
    ['a\\"b', ['a"b']],
    ['a\\\\b', ['a\\b']],
    ['a\\\nb', ['ab']],
    ['end\\', ['end\\']],
    ['"\\" \\\\ \\$ \\` \\n"', ['" \\ $ ` \\n']],
    ["'\\n \\'", ['\\n \\']],
    ['echo $HOME ~ * ; | >', ['echo', '$HOME', '~', '*', ';', '|', '>']],
    ['', []],
    ['   ', []],
  ])('%j', (text, expected) => {
    expect(words(text)).toEqual(expected);
  });

  it.each([
    ['sh -c "cat {0}', 'the double quote (") at character 7 is never closed', 6],
    ["bash -c 'echo {0}", "the single quote (') at character 9 is never closed", 8],
    ['a "b\\"', 'the double quote (") at character 3 is never closed', 2],
    [`a "it's`, 'the double quote (") at character 3 is never closed', 2],
    [`a 'say "hi`, "the single quote (') at character 3 is never closed", 2],
  ])('%j has an unclosed quote', (text, message, offset) => {
    expect(splitShellWords(text)).toEqual({ ok: false, message, offset });
  });

  /** Quotes a word as sh would read it back: inside single quotes, each ' written as '\''. */
  const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;

  it('reads back any list of words quoted for sh', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary-ascii' }), { maxLength: 6 }), (list) => {
        expect(words(list.map(quote).join(' '))).toEqual(list);
      }),
    );
  });

  it('splits unquoted words without quotes or backslashes on whitespace alone', () => {
    const plain = fc.stringMatching(/^[^\s'"\\]+$/);
    fc.assert(
      fc.property(fc.array(plain, { maxLength: 6 }), fc.constantFrom(' ', '  ', '\t', '\n'), (list, sep) => {
        expect(words(list.join(sep))).toEqual(list);
      }),
    );
  });
});
