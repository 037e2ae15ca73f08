import { describe, expect, it } from 'vitest';
import { parseKeyValueFile } from '../../src/runner/file-commands.js';

describe('GITHUB_OUTPUT / GITHUB_ENV files', () => {
  it('reads name=value lines and heredoc values, later values winning', () => {
    const values = parseKeyValueFile('a=1\nb=x=y\n\nmulti<<EOF\nline 1\nline 2\nEOF\na=2\n', 'GITHUB_OUTPUT');
    expect(Object.fromEntries(values)).toEqual({ a: '2', b: 'x=y', multi: 'line 1\nline 2' });
  });

  it('rejects a malformed line and an unterminated heredoc with the line and file named', () => {
    expect(() => parseKeyValueFile('ok=1\njust text\n', 'GITHUB_ENV')).toThrow(
      'GITHUB_ENV: line 2 is not name=value or name<<DELIMITER: "just text"',
    );
    expect(() => parseKeyValueFile('v<<END\nno end\n', 'GITHUB_OUTPUT')).toThrow(
      'GITHUB_OUTPUT: matching delimiter "END" not found for "v"',
    );
  });
});
