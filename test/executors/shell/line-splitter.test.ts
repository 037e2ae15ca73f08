import { describe, expect, it } from 'vitest';
import { LineSplitter, maxLineLength } from '../../../src/executors/shell/line-splitter.js';
import { SecretMasker } from '../../../src/runner/secret-masker.js';

function split(chunks: readonly Buffer[], maxLength?: number): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((text) => lines.push(text), { maxLength });
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return lines;
}

function byteByByte(text: string): Buffer[] {
  return [...Buffer.from(text, 'utf8')].map((byte) => Buffer.from([byte]));
}

describe('LineSplitter', () => {
  it('splits on \\n, drops a trailing \\r and emits an unterminated last line at end()', () => {
    expect(split([Buffer.from('one\r\ntwo\n\nthree')])).toEqual(['one', 'two', '', 'three']);
  });

  it('emits nothing extra for output ending in a newline, or for no output', () => {
    expect(split([Buffer.from('a\n')])).toEqual(['a']);
    expect(split([])).toEqual([]);
  });

  it('decodes multi-byte characters split across chunks', () => {
    const text = 'héllo 😀 中文\nñ🎉\n';
    expect(split(byteByByte(text))).toEqual(['héllo 😀 中文', 'ñ🎉']);
  });

  it('joins a \\r\\n split across chunks', () => {
    expect(split([Buffer.from('a\r'), Buffer.from('\nb')])).toEqual(['a', 'b']);
  });

  it('cuts over-long lines without splitting a surrogate pair or a pending \\r\\n', () => {
    expect(split([Buffer.from('abcdefghij\n')], 4)).toEqual(['abcd', 'efgh', 'ij']);
    expect(split(byteByByte('ab😀cd\n'), 4)).toEqual(['ab😀', 'cd']);
    expect(split(byteByByte('abc😀\n'), 4)).toEqual(['abc', '😀']);
    expect(split([Buffer.from('abcd\r'), Buffer.from('\n')], 4)).toEqual(['abcd']);
    expect(split([Buffer.from('abcde\r'), Buffer.from('\n')], 4)).toEqual(['abcd', 'e']);
  });

  it('keeps a never-ending line bounded while it streams in', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((text) => lines.push(text));
    const chunk = Buffer.alloc(10_000, 'x');
    for (let i = 0; i < 100; i += 1) splitter.push(chunk);
    expect(lines.length).toBeGreaterThanOrEqual(14);
    expect(lines.every((line) => line.length === maxLineLength)).toBe(true);
    splitter.end();
    expect(lines.join('').length).toBe(1_000_000);
  });

  it('ignores chunks pushed after end()', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((text) => lines.push(text));
    splitter.end();
    splitter.push(Buffer.from('late\n'));
    expect(lines).toEqual([]);
  });
});

describe('LineSplitter with cutBefore (a secret masker)', () => {
  const secret = 'SUPERSECRET';
  const masker = new SecretMasker();
  masker.add(secret);
  const cutBefore = (text: string, limit: number) => masker.cutBefore(text, limit);

  it('never cuts inside a secret: a line that holds it across the limit is cut before it', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((text) => lines.push(text), { maxLength: 16, cutBefore });
    splitter.push(Buffer.from(`0123456789${secret}abcd\n`));
    splitter.end();
    expect(lines).toEqual(['0123456789', `${secret}abcd`]);
  });

  it('holds back what may be the start of a secret until the rest of it arrives', () => {
    const lines: string[] = [];
    const splitter = new LineSplitter((text) => lines.push(text), { maxLength: 16, cutBefore });
    splitter.push(Buffer.from('0123456789ABCSUPER'));
    splitter.push(Buffer.from('SECRET tail\n'));
    splitter.end();
    expect(lines).toEqual(['0123456789ABC', `${secret} tail`]);
  });
});

describe('LineSplitter marks the pieces of a cut line', () => {
  function pieces(chunks: readonly string[]): [string, boolean][] {
    const out: [string, boolean][] = [];
    const splitter = new LineSplitter((text, _at, continued) => out.push([text, continued]), {
      maxLength: 4,
    });
    for (const chunk of chunks) splitter.push(Buffer.from(chunk));
    splitter.end();
    return out;
  }

  it('as continued after the first, whether the line came whole or streamed in', () => {
    const expected: [string, boolean][] = [
      ['abcd', false],
      ['efgh', true],
      ['ij', true],
      ['next', false],
      ['::x', false],
    ];
    expect(pieces(['abcdefghij\nnext\n::x'])).toEqual(expected);
    expect(pieces([...'abcdefghij\nnext\n::x'])).toEqual(expected);
    expect(pieces(['abcdef', 'ghij', '\nnext\n::x'])).toEqual(expected);
  });
});
