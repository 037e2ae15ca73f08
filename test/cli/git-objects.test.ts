import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGitContext } from '../../src/cli/git-info.js';
import { applyDelta, readCommitObject } from '../../src/cli/git-objects.js';

const dir = mkdtempSync(join(tmpdir(), 'valkyrie-git-objects-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Git = (...args: string[]) => string;

/** A new repository; `git` prints trimmed output, `raw` as it is. */
function repo(name: string): { path: string; git: Git; raw: Git } {
  const path = join(dir, name);
  const raw = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Ada L', '-c', 'user.email=ada@example.com', ...args], {
      cwd: path,
      env: { ...process.env, GIT_COMMITTER_DATE: '1700000000 +0200', GIT_AUTHOR_DATE: '1600000000 -0330' },
    }).toString();
  execFileSync('git', ['init', '-q', '-b', 'main', path]);
  return { path, git: (...args) => raw(...args).trim(), raw };
}

/** Commits whose long messages differ a little, so that a repack stores most of them as deltas. */
function commitMany(git: Git, count: number): string[] {
  const shas: string[] = [];
  const body = 'A long and repetitive commit message body line.\n'.repeat(40);
  for (let i = 0; i < count; i++) {
    git('commit', '-q', '--allow-empty', '-m', `change ${i}`, '-m', `${body}number ${i}`);
    shas.push(git('rev-parse', 'HEAD'));
  }
  return shas;
}

describe('readCommitObject', () => {
  it('reads loose commits exactly as git cat-file prints them', () => {
    const { path, git, raw } = repo('loose');
    for (const sha of commitMany(git, 3))
      expect(readCommitObject(join(path, '.git'), sha)).toBe(raw('cat-file', 'commit', sha));
  });

  it('reads packed commits, deltas resolved, exactly as git cat-file prints them', () => {
    const { path, git, raw } = repo('packed');
    const shas = commitMany(git, 12);
    git('repack', '-adfq', '--window=50', '--depth=50');
    expect(git('count-objects', '-v')).toMatch(/^count: 0$/m);
    const packs = join(path, '.git', 'objects', 'pack');
    const indexes = readdirSync(packs).filter((name) => name.endsWith('.idx'));
    const listing = git('verify-pack', '-v', ...indexes.map((name) => join(packs, name)));
    // Some commits are stored as deltas of others (a line ending in its base): the reader resolves them.
    expect(
      listing.split('\n').filter((line) => / commit .* [0-9a-f]{40}$/.test(line)).length,
    ).toBeGreaterThan(0);
    for (const sha of shas)
      expect(readCommitObject(join(path, '.git'), sha)).toBe(raw('cat-file', 'commit', sha));
  });

  it('gives nothing for an unknown object or a sha that is not one', () => {
    const { path, git } = repo('unknown');
    commitMany(git, 1);
    expect(readCommitObject(join(path, '.git'), 'f'.repeat(40))).toBeUndefined();
    expect(readCommitObject(join(path, '.git'), '../../etc')).toBeUndefined();
  });
});

describe('applyDelta', () => {
  it('copies from the base and inserts new bytes', () => {
    const base = Buffer.from('hello world');
    // source size 11, target size 12; copy offset 0 length 6; insert "there!"
    const delta = Buffer.from([11, 12, 0x90, 6, 6, ...Buffer.from('there!')]);
    expect(applyDelta(base, delta).toString()).toBe('hello there!');
    expect(() => applyDelta(Buffer.from('short'), delta)).toThrow(/another base/);
  });
});

describe('readGitContext', () => {
  it("adds HEAD's commit only when asked (a push run), from a linked worktree and their folders too", () => {
    const { path, git } = repo('context');
    git('remote', 'add', 'origin', 'https://github.com/acme/widgets.git');
    const [first, second] = commitMany(git, 2);
    git('worktree', 'add', '-q', join(dir, 'linked'), 'HEAD');
    const folders = [join(path, 'src', 'lib'), join(dir, 'linked', 'docs')];
    for (const folder of folders) mkdirSync(folder, { recursive: true });
    for (const workspace of [path, join(dir, 'linked'), ...folders]) {
      expect(readGitContext(workspace, false).commit).toBeUndefined();
      expect(readGitContext(workspace, true).commit).toMatchObject({
        parent: first,
        message: expect.stringMatching(/^change 1\n\nA long/),
        author: { name: 'Ada L', email: 'ada@example.com', date: '2020-09-13T08:56:40-03:30' },
        committer: { name: 'Ada L', email: 'ada@example.com', date: '2023-11-15T00:13:20+02:00' },
      });
    }
    expect(readGitContext(path, true)).toMatchObject({ sha: second, ref: 'refs/heads/main' });
    expect(readGitContext(join(path, 'src', 'lib'), true)).toMatchObject({
      sha: second,
      ref: 'refs/heads/main',
      repository: 'acme/widgets',
    });
  });
});
