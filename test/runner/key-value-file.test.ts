import { describe, expect, it } from 'vitest';
import { keyValueEntries, namedEntries } from '../../src/runner/key-value-file.js';

const read = (content: string, crlf = false) =>
  [...keyValueEntries(content, 'GITHUB_OUTPUT', crlf)].map(({ name, value }) => [name, value]);

// What actions/runner's EnvFileKeyValuePairs (src/Runner.Worker/FileCommandManager.cs) reads.
describe('command files (name=value, name<<DELIMITER)', () => {
  it('reads name=value lines and heredoc values in order, skipping empty lines', () => {
    expect(read('a=1\nb=x=y\n\nmulti<<EOF\nline 1\nline 2\nEOF\na=2\nc=d<<e\n')).toEqual([
      ['a', '1'],
      ['b', 'x=y'],
      ['multi', 'line 1\nline 2'],
      ['a', '2'],
      ['c', 'd<<e'],
    ]);
  });

  it('refuses a line of only whitespace, where only an empty line is skipped', () => {
    expect(() => read('ok=1\n   \nw=2\n')).toThrow(
      'GITHUB_OUTPUT: line 2 holds only whitespace; only an empty line may stand between entries: "   "',
    );
  });

  it('reads =value with an empty name, which GITHUB_OUTPUT and GITHUB_ENV then refuse with its line', () => {
    expect(read('=v\n')).toEqual([['', 'v']]);
    expect(() => [...namedEntries('a=1\n\n=value\n', 'GITHUB_ENV')]).toThrow(
      'GITHUB_ENV: line 3 has an empty name before "="',
    );
    // `<<` before `=` makes it a heredoc, whose name must not be empty either.
    expect(() => read('<<EOF=x\nEOF\n')).toThrow(
      'GITHUB_OUTPUT: line 1 has an empty name before "<<": "<<EOF=x"',
    );
  });

  it('keeps a CR before LF in the value where LF alone ends a line (Linux, macOS), so CRLF heredocs close', () => {
    expect(read('a=1\r\nv<<EOF\r\nx\r\ny\r\nEOF\r\n')).toEqual([
      ['a', '1\r'],
      ['v', 'x\r\ny\r'],
    ]);
    expect(() => read('v<<EOF\r\nx\nEOF\n')).toThrow(
      'GITHUB_OUTPUT: matching delimiter "EOF\\r" (a CRLF line ending: only LF ends a line here, as on GitHub\'s Linux and macOS runners) not found for "v" (opened on line 1)',
    );
    expect(() => read('a=1\r\n\r\n')).toThrow('GITHUB_OUTPUT: line 2 holds only whitespace');
  });

  it('takes CRLF as a line break where the runner does (Windows), the body keeping its own breaks', () => {
    expect(read('a=1\r\nv<<EOF\r\nx\r\ny\r\nEOF\r\n\r\nb=2', true)).toEqual([
      ['a', '1'],
      ['v', 'x\r\ny'],
      ['b', '2'],
    ]);
  });

  it('rejects an unterminated heredoc and an empty delimiter, with the line and file named', () => {
    expect(() => read('v<<END\nno end\n')).toThrow(
      'GITHUB_OUTPUT: matching delimiter "END" not found for "v" (opened on line 1)',
    );
    expect(() => read('ok=1\nv<<\nbody\n\nw=2\n')).toThrow(
      'GITHUB_OUTPUT: line 2 has an empty delimiter after "<<": "v<<"',
    );
    expect(() => read('ok=1\njust text\n')).toThrow(
      'GITHUB_OUTPUT: line 2 is not name=value or name<<DELIMITER: "just text"',
    );
  });

  it('yields the entries before a malformed line before it throws', () => {
    const names: string[] = [];
    expect(() => {
      for (const { name } of keyValueEntries('a=1\nb=2\nbad\nc=3\n', 'GITHUB_OUTPUT', false))
        names.push(name);
    }).toThrow('line 3');
    expect(names).toEqual(['a', 'b']);
  });
});
