import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parseGlobPatterns } from '../../src/runner/glob-patterns.js';
import { hashFiles } from '../../src/runner/hash-files.js';

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

  it("hashes in @actions/glob's order: its search roots in turn, each depth first by name", () => {
    const tree = mkdtempSync(join(tmpdir(), 'valkyrie-hash-order-'));
    try {
      mkdirSync(join(tree, 'app'));
      mkdirSync(join(tree, 'app-web'));
      writeFileSync(join(tree, 'app/package-lock.json'), 'app');
      writeFileSync(join(tree, 'app-web/package-lock.json'), 'web');
      writeFileSync(join(tree, 'app.json'), 'json');
      const sha = (text: string) => createHash('sha256').update(text).digest();
      // GitHub walks app/ before app-web/ and app.json, though 'app-web/' < 'app.json' < 'app/' as text.
      const expected = createHash('sha256')
        .update(sha('app'))
        .update(sha('web'))
        .update(sha('json'))
        .digest('hex');
      expect(hashFiles(tree, ['**'])).toBe(expected);
      // Search roots in the patterns' order, one inside another's walked with it.
      const webFirst = createHash('sha256').update(sha('web')).update(sha('app')).digest('hex');
      expect(hashFiles(tree, ['app-web/**', 'app/*', 'app/package-lock.json'])).toBe(webFirst);
      expect(
        parseGlobPatterns(['app-web/**', '!x', 'app/*', 'app/package-lock.json'], tree).searchRoots,
      ).toEqual(['app-web', 'app']);
      expect(parseGlobPatterns(['app/**', 'a?/b'], tree).searchRoots).toEqual(['']);
    } finally {
      rmSync(tree, { recursive: true, force: true });
    }
  });

  it('reads globs as @actions/glob does', () => {
    const matches = (patterns: string[], path: string) => parseGlobPatterns(patterns, '/w').matches(path);
    expect(matches(['**/*.ts'], 'a/b/c.ts')).toBe(true);
    expect(matches(['**/*.ts'], 'c.ts')).toBe(true);
    expect(matches(['src/*.ts'], 'src/a/b.ts')).toBe(false);
    expect(matches(['a?.md'], 'ab.md')).toBe(true);
    expect(matches(['[Pp]ackage.json'], 'Package.json')).toBe(true);
    expect(matches(['[!P]ackage.json'], 'Package.json')).toBe(false);
    // ** is a globstar only as a whole segment; braces are literal.
    expect(matches(['src/**.ts'], 'src/a/b.ts')).toBe(false);
    expect(matches(['{a,b}.txt'], 'a.txt')).toBe(false);
    // A class, like * and ?, stays within one segment.
    expect(matches(['a[!x]b', 'a[+-0]b'], 'a/b')).toBe(false);
    expect(matches(['.github/**'], '.github/workflows/ci.yml')).toBe(true);
    // A directory stands for every file under it, to exclude as to include.
    expect(matches(['src'], 'src/a/b.ts')).toBe(true);
    expect(matches(['src/'], 'src/a/b.ts')).toBe(true);
    expect(matches(['**/*.json', '!**/node_modules'], 'node_modules/x/package.json')).toBe(false);
    // Later patterns override earlier ones; several may come in one argument, one a line.
    expect(matches(['**', '!src/**', 'src/keep.ts'], 'src/keep.ts')).toBe(true);
    expect(matches(['**\n!src/**\n# comment\n'], 'src/a.ts')).toBe(false);
    // Rooted at the workspace; an absolute pattern matches only in it.
    expect(matches(['/w/go.sum'], 'go.sum')).toBe(true);
    expect(matches(['/w'], 'a/go.sum')).toBe(true);
    expect(matches(['./go.sum'], 'go.sum')).toBe(true);
    expect(matches(['/elsewhere/go.sum'], 'go.sum')).toBe(false);
    expect(() => matches(['../x/**'], 'a')).toThrow(
      "Invalid pattern '../x/**'. Relative pathing '.' and '..' is not allowed.",
    );
  });

  it('reads an invalid class such as [z-a] as literal text, as minimatch does, not as an error', () => {
    const matches = (patterns: string[], path: string) => parseGlobPatterns(patterns, '/w').matches(path);
    expect(matches(['[z-a].txt'], '[z-a].txt')).toBe(true);
    expect(matches(['[z-a].txt'], 'z.txt')).toBe(false);
    expect(matches(['[!z-a]'], '[!z-a]')).toBe(true);
    // What is between the brackets is still read as a glob.
    expect(matches(['[z-*]'], '[z-abc]')).toBe(true);
    expect(hashFiles(dir, ['[z-a].txt'])).toBe('');
  });

  it('tests a path once per pattern, not again for every directory above it', () => {
    // Without timing, what keeps hashFiles() over a big node_modules cheap: one RegExp test a pattern.
    const globs = parseGlobPatterns(['**/*.json', '!**/node_modules', 'src/**'], '/w');
    const test = vi.spyOn(RegExp.prototype, 'test');
    let matched: boolean;
    let tests: number;
    try {
      matched = globs.matches('node_modules/a/b/c/d/e/f/package.json');
    } finally {
      tests = test.mock.calls.length;
      test.mockRestore();
    }
    expect(matched).toBe(false);
    expect(tests).toBeLessThanOrEqual(3);
  });

  it('hashes what a directory pattern or an absolute one names, a link to a file as the file, and fails on a broken link', () => {
    const sha = (text: string) => createHash('sha256').update(text).digest();
    const nested = createHash('sha256').update(sha('nested')).digest('hex');
    expect(hashFiles(dir, ['pkg/sub'])).toBe(nested);
    expect(hashFiles(dir, [join(dir, 'pkg/sub/package-lock.json')])).toBe(nested);
    expect(hashFiles(dir, ['**/package-lock.json', '!pkg'])).toBe(
      createHash('sha256').update(sha('root')).digest('hex'),
    );
    const outside = mkdtempSync(join(tmpdir(), 'valkyrie-hash-outside-'));
    try {
      writeFileSync(join(outside, 'lock'), 'nested');
      mkdirSync(join(outside, 'dir'));
      writeFileSync(join(outside, 'dir/lock'), 'other');
      symlinkSync(join(outside, 'lock'), join(dir, 'linked.lock'));
      symlinkSync(join(outside, 'dir'), join(dir, 'linked-dir'));
      symlinkSync(join(outside, 'gone'), join(dir, 'broken.lock'));
      expect(hashFiles(dir, ['*.lock', '!broken.lock'])).toBe(nested);
      expect(hashFiles(dir, ['linked-dir/**'])).toBe('');
      // GitHub's hashFiles script stats every match and fails on a broken link, unless links are followed.
      expect(() => hashFiles(dir, ['*.lock'])).toThrow(
        "broken.lock is a broken symbolic link: GitHub's hashFiles() fails on it too; leave it out with '!broken.lock'",
      );
    } finally {
      for (const link of ['linked.lock', 'linked-dir', 'broken.lock'])
        rmSync(join(dir, link), { force: true });
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe("hashFiles('--follow-symbolic-links', …)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-hash-follow-'));
  const outside = mkdtempSync(join(tmpdir(), 'valkyrie-hash-outside-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  mkdirSync(join(outside, 'dir'));
  writeFileSync(join(outside, 'dir/lock'), 'linked');
  writeFileSync(join(dir, 'own.lock'), 'own');
  symlinkSync(join(outside, 'dir'), join(dir, 'linked-dir'));
  symlinkSync(join(outside, 'gone'), join(dir, 'broken.lock'));
  // A link back up the tree: @actions/glob notices the cycle and does not walk it again.
  symlinkSync(dir, join(dir, 'loop'));
  const sha = (text: string) => createHash('sha256').update(text).digest();

  it('walks links to directories, as the runner does with that first argument, skipping broken ones and cycles', () => {
    expect(hashFiles(dir, ['linked-dir/**'])).toBe('');
    expect(hashFiles(dir, ['--follow-symbolic-links', 'linked-dir/**'])).toBe(
      createHash('sha256').update(sha('linked')).digest('hex'),
    );
    // The option is matched ignoring case; own.lock, then linked-dir/lock (loop/ is the cycle).
    expect(hashFiles(dir, ['--FOLLOW-symbolic-links', '**/*lock'])).toBe(
      createHash('sha256').update(sha('linked')).update(sha('own')).digest('hex'),
    );
  });

  it('refuses any other first argument starting with --, as the runner does', () => {
    expect(() => hashFiles(dir, ['--follow', '*.lock'])).toThrow(
      "Invalid glob option --follow, available option: '--follow-symbolic-links'",
    );
    // Only the first argument is an option.
    expect(hashFiles(dir, ['own.lock', '--follow-symbolic-links'])).toBe(
      createHash('sha256').update(sha('own')).digest('hex'),
    );
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

describe('hashFiles in a large tree', () => {
  // 400 links to one directory of 400 files: 160,000 paths under links/, from 800 entries on disk (as
  // fast to make as a small tree). A node_modules of as many files, without links, failed the same way.
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-hash-large-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'files'));
  mkdirSync(join(dir, 'links'));
  for (let i = 0; i < 400; i++) {
    writeFileSync(join(dir, 'files', `f${i}`), '');
    symlinkSync(join(dir, 'files'), join(dir, 'links', `l${i}`));
  }
  writeFileSync(join(dir, 'package-lock.json'), 'root');

  it('lists a subtree of more paths than a call takes arguments', () => {
    const sha = (text: string) => createHash('sha256').update(text).digest();
    expect(hashFiles(dir, ['--follow-symbolic-links', 'package-lock.json'])).toBe(
      createHash('sha256').update(sha('root')).digest('hex'),
    );
  });
});
