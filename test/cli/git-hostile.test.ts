import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readGitInfo } from '../../src/cli/git-info.js';
import { readCommitObject } from '../../src/cli/git-objects.js';

/** Odd or hostile .git contents: each gives less git context, never a hang, an exception or a huge read. */
const dir = mkdtempSync(join(tmpdir(), 'valkyrie-git-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function repo(name: string): { path: string; git: (...args: string[]) => string } {
  const path = join(dir, name);
  execFileSync('git', ['init', '-q', '-b', 'main', path]);
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=A', '-c', 'user.email=a@e', ...args], { cwd: path })
      .toString()
      .trim();
  return { path, git };
}

function looseObjectPath(path: string, sha: string): string {
  return join(path, '.git', 'objects', sha.slice(0, 2), sha.slice(2));
}

describe('the object reader', () => {
  it('refuses a loose object that inflates past the largest object read, or not to its declared size', () => {
    const { path, git } = repo('bomb');
    git('commit', '-q', '--allow-empty', '-m', 'hi');
    const sha = git('rev-parse', 'HEAD');
    const file = looseObjectPath(path, sha);
    rmSync(file, { force: true });
    // 17 MiB of one byte: about 17 KiB on disk.
    writeFileSync(file, deflateSync(Buffer.concat([Buffer.from('commit 5\0'), Buffer.alloc(17 << 20, 120)])));
    expect(readCommitObject(join(path, '.git'), sha)).toBeUndefined();
    rmSync(file);
    writeFileSync(file, deflateSync(Buffer.from('commit 5\0hello world')));
    expect(readCommitObject(join(path, '.git'), sha)).toBeUndefined();
  });

  it('reads a commit from the next pack when another pack that lists it is corrupt', () => {
    const { path, git } = repo('packs');
    git('commit', '-q', '--allow-empty', '-m', 'packed');
    const sha = git('rev-parse', 'HEAD');
    git('repack', '-adq');
    const packs = join(path, '.git', 'objects', 'pack');
    const [index] = readdirSync(packs).filter((name) => name.endsWith('.idx'));
    if (index === undefined) throw new Error('no pack');
    for (const name of ['pack-0000', 'pack-7777', 'pack-ffff', 'pack-aaaa']) {
      copyFileSync(join(packs, index), join(packs, `${name}.idx`));
      writeFileSync(join(packs, `${name}.pack`), Buffer.alloc(4096, 0x9c));
    }
    expect(readCommitObject(join(path, '.git'), sha)).toBe(git('cat-file', 'commit', sha).concat('\n'));
  });

  it('does not read a FIFO as a loose object (it would wait for a writer forever)', () => {
    const { path, git } = repo('fifo-object');
    git('commit', '-q', '--allow-empty', '-m', 'hi');
    const sha = git('rev-parse', 'HEAD');
    rmSync(looseObjectPath(path, sha), { force: true });
    execFileSync('mkfifo', [looseObjectPath(path, sha)]);
    expect(readCommitObject(join(path, '.git'), sha)).toBeUndefined();
  });
});

describe('readGitInfo of an odd HEAD', () => {
  const sha = 'a'.repeat(40);

  function withHead(name: string, head: string | undefined): string {
    const path = join(dir, name);
    mkdirSync(join(path, '.git', 'refs', 'heads'), { recursive: true });
    writeFileSync(join(path, '.git', 'refs', 'heads', 'main'), `${sha}\n`);
    if (head === undefined) execFileSync('mkfifo', [join(path, '.git', 'HEAD')]);
    else writeFileSync(join(path, '.git', 'HEAD'), head);
    return path;
  }

  it('gives no git context for a HEAD that is no symbolic ref under refs/ nor a commit sha', () => {
    expect(readGitInfo(withHead('outside', 'ref: ../../../../etc/hostname\n'))).toEqual({});
    expect(readGitInfo(withHead('dotdot', 'ref: refs/heads/../../../../../etc/hostname\n'))).toEqual({});
    expect(readGitInfo(withHead('garbage', 'hello there\n'))).toEqual({});
    expect(readGitInfo(withHead('short', 'abc123\n'))).toEqual({});
    expect(readGitInfo(withHead('fifo-head', undefined))).toEqual({});
    expect(readGitInfo(withHead('detached', `${'b'.repeat(64)}\n`))).toEqual({ sha: 'b'.repeat(64) });
    expect(readGitInfo(withHead('branch', 'ref: refs/heads/main\n'))).toEqual({
      sha,
      ref: 'refs/heads/main',
    });
  });

  it('gives no sha for a ref that is a FIFO or not a sha', () => {
    const fifo = withHead('fifo-ref', 'ref: refs/heads/fifo\n');
    execFileSync('mkfifo', [join(fifo, '.git', 'refs', 'heads', 'fifo')]);
    expect(readGitInfo(fifo)).toEqual({ ref: 'refs/heads/fifo' });
    const odd = withHead('odd-ref', 'ref: refs/heads/main\n');
    writeFileSync(join(odd, '.git', 'refs', 'heads', 'main'), 'not a sha\n');
    expect(readGitInfo(odd)).toEqual({ ref: 'refs/heads/main' });
  });
});
