import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectPair, readDotenv } from '../../src/cli/key-values.js';

const dir = mkdtempSync(join(tmpdir(), 'valkyrie-dotenv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function read(text: string): Record<string, string> {
  const path = join(dir, 'secrets.env');
  writeFileSync(path, text);
  return readDotenv(path);
}

describe('--secrets-file', () => {
  it('says why a file cannot be read', () => {
    expect(() => readDotenv(dir)).toThrow(`cannot read secrets file ${dir}: it is a directory`);
    const missing = join(dir, 'missing.env');
    expect(() => readDotenv(missing)).toThrow(`cannot read secrets file ${missing}: no such file`);
  });

  it('refuses a NUL byte, naming the line and not the value', () => {
    expect(() => read('A=1\nTOKEN=hunter2\0\n')).toThrow(
      /secrets\.env:2: holds a NUL byte, which no secret can hold/,
    );
    expect(() => read('TOKEN=hunter2\0\n')).not.toThrow(/hunter2/);
  });

  it('reads quoted values over several lines, as dotenv and node --env-file do', () => {
    const text = [
      '# keys',
      'KEY="-----BEGIN KEY-----',
      'abc  ',
      '-----END KEY-----"',
      "SINGLE='line one",
      "  line two' # a comment",
      'TICKS=`a "quoted" word`',
      'ESCAPED="one\\ntwo \\"three\\""',
      'export PLAIN=two words here # comment',
      'EMPTY=',
    ].join('\n');
    expect(read(text)).toEqual({
      KEY: '-----BEGIN KEY-----\nabc  \n-----END KEY-----',
      SINGLE: 'line one\n  line two',
      TICKS: 'a "quoted" word',
      ESCAPED: 'one\ntwo "three"',
      PLAIN: 'two words here',
      EMPTY: '',
    });
  });

  it('names the line of a quote never closed, and of text after a closed one', () => {
    const path = join(dir, 'secrets.env');
    expect(() => read('A=1\nMULTI="l1\nl2\n')).toThrow(
      `${path}:2: the value of MULTI opens a " quote that is never closed`,
    );
    expect(() => read("A='x' y\n")).toThrow(`${path}:1: unexpected "y" after the quoted value of A`);
    expect(() => read('not a pair\n')).toThrow(`${path}:1: expected NAME=VALUE, received "not a pair"`);
  });
});

describe('--input, --env, --var and --secret values', () => {
  it('collect NAME=VALUE pairs, and refuse another value naming the option it was given to', () => {
    const input = collectPair('--input');
    expect(input('b=2', input('a=1=x'))).toEqual({ a: '1=x', b: '2' });
    expect(() => input('target')).toThrow('--input: expected NAME=VALUE, received "target"');
    expect(() => collectPair('--env')('=x')).toThrow('--env: expected NAME=VALUE, received "=x"');
  });
});
