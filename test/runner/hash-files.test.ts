import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { globToRegExp, hashFiles } from '../../src/runner/hash-files.js';

describe('hashFiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-hash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'pkg/sub'), { recursive: true });
  writeFileSync(join(dir, 'package-lock.json'), 'root');
  writeFileSync(join(dir, 'pkg/sub/package-lock.json'), 'nested');
  writeFileSync(join(dir, 'pkg/readme.md'), 'docs');

  it('hashes the sha256 of each matching file in path order', () => {
    const sha = (text: string) => createHash('sha256').update(text).digest();
    const expected = createHash('sha256').update(sha('root')).update(sha('nested')).digest('hex');
    expect(hashFiles(dir, ['**/package-lock.json'])).toBe(expected);
    expect(hashFiles(dir, ['**/package-lock.json', '!pkg/**'])).toBe(
      createHash('sha256').update(sha('root')).digest('hex'),
    );
    expect(hashFiles(dir, ['*.nothing'])).toBe('');
  });

  it('translates globs', () => {
    expect(globToRegExp('**/*.ts').test('a/b/c.ts')).toBe(true);
    expect(globToRegExp('**/*.ts').test('c.ts')).toBe(true);
    expect(globToRegExp('src/*.ts').test('src/a/b.ts')).toBe(false);
    expect(globToRegExp('a?.md').test('ab.md')).toBe(true);
  });
});

describe('hashFiles in a workspace holding the state directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-hash-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, '.valkyrie/workflows'), { recursive: true });
  writeFileSync(join(dir, 'a.txt'), 'a');
  writeFileSync(join(dir, '.valkyrie/workflows/ci.yml'), 'ci');
  const stateDir = join(dir, '.valkyrie');

  it("leaves the state directory's own files out, but not its workflows/", () => {
    const before = hashFiles(dir, ['**'], stateDir);
    writeFileSync(join(dir, '.valkyrie/valkyrie.db'), 'runs');
    writeFileSync(join(dir, '.valkyrie/valkyrie.db-wal'), 'more runs');
    expect(hashFiles(dir, ['**'], stateDir)).toBe(before);
    expect(hashFiles(dir, ['.valkyrie/**'], stateDir)).toBe(hashFiles(dir, ['.valkyrie/workflows/*']));
    expect(hashFiles(dir, ['.valkyrie/**'], stateDir)).not.toBe('');
  });

  it('leaves nothing out of a state directory elsewhere, or none', () => {
    expect(hashFiles(dir, ['**'], join(tmpdir(), 'elsewhere'))).toBe(hashFiles(dir, ['**']));
  });
});
