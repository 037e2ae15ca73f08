import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sanitizedRemote } from '../../src/bundle/git-snapshot.js';
import { type PackedBundle, type PackOptions, packWorkspace } from '../../src/bundle/pack.js';
import { unpackBundle } from '../../src/bundle/unpack.js';

const scratch: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-git-snapshot-test-'));
  scratch.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** git with a fixed identity and no user or system config, so the machine's settings do not count. */
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.com', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
  }).trim();

/** A repository with two commits on `main` (a, d/b, then c) and an origin whose URL holds a token. */
function repository(): { dir: string; head: string } {
  const dir = tempDir();
  git(dir, 'init', '-q', '-b', 'main');
  mkdirSync(join(dir, 'd'));
  writeFileSync(join(dir, 'a'), 'a\n');
  writeFileSync(join(dir, 'd', 'b'), 'b\n');
  git(dir, 'add', '.');
  git(dir, 'commit', '-qm', 'one');
  writeFileSync(join(dir, 'c'), 'c\n');
  git(dir, 'add', 'c');
  git(dir, 'commit', '-qm', 'two');
  git(dir, 'remote', 'add', 'origin', 'https://someone:s3cret@github.com/owner/repo.git');
  return { dir, head: git(dir, 'rev-parse', 'HEAD') };
}

async function packed(
  root: string,
  options: PackOptions = {},
): Promise<{ bundle: PackedBundle; target: string }> {
  const bundle = await packWorkspace(root, { tempDir: tempDir(), ...options });
  const target = join(tempDir(), 'workspace');
  await unpackBundle({ archive: bundle.path, sha256: bundle.sha256, target });
  return { bundle, target };
}

describe('a bundle of a git work tree carries a .git of HEAD', () => {
  it('on its branch, one commit deep, with the bundled changes showing against HEAD', async () => {
    const { dir, head } = repository();
    writeFileSync(join(dir, 'a'), 'a, changed\n');
    writeFileSync(join(dir, 'new'), 'untracked\n');
    const { bundle, target } = await packed(dir);

    expect(bundle.git).toEqual({ commit: head, bytes: expect.any(Number) });
    expect(bundle.fileCount).toBe(4);
    expect(git(target, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(target, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe('main');
    expect(git(target, 'rev-parse', '--is-shallow-repository')).toBe('true');
    expect(git(target, 'log', '--format=%s')).toBe('two');
    expect(git(target, 'status', '--porcelain')).toBe('M a\n?? new');
    expect(git(target, 'diff', '--', 'a')).toContain('+a, changed');
    expect(git(target, 'remote', 'get-url', 'origin')).toBe('https://github.com/owner/repo.git');
    expect(git(target, 'rev-parse', '--abbrev-ref', '@{upstream}')).toBe('origin/main');
    git(target, 'fsck', '--no-progress');
  });

  it("gives origin's first URL, which git fetches from and the run's repository is read from, of several", async () => {
    const { dir } = repository();
    git(dir, 'config', '--add', 'remote.origin.url', 'https://mirror.example/owner/repo.git');
    const { target } = await packed(dir);
    expect(git(target, 'config', '--get-all', 'remote.origin.url')).toBe('https://github.com/owner/repo.git');
  });

  it('gives the same bundle for the same commit and files, however the repository packed its objects', async () => {
    const { dir } = repository();
    const first = await packWorkspace(dir, { tempDir: tempDir() });
    git(dir, '-c', 'pack.compression=1', '-c', 'index.version=4', 'repack', '-adfq');
    git(dir, 'config', 'core.compression', '9');
    const second = await packWorkspace(dir, { tempDir: tempDir() });
    expect(second.sha256).toBe(first.sha256);
  });

  it('quotes a branch name git allows but a config line would break on', async () => {
    const { dir, head } = repository();
    const branch = 'feature/a"b#c;d';
    git(dir, 'checkout', '-qb', branch);
    const { target } = await packed(dir);
    expect(git(target, 'rev-parse', '--abbrev-ref', 'HEAD')).toBe(branch);
    expect(git(target, 'rev-parse', '--abbrev-ref', '@{upstream}')).toBe(`origin/${branch}`);
    expect(git(target, 'rev-parse', '@{upstream}')).toBe(head);
  });

  it('sends the files without a .git when git fails to make one, or it would pass the size limit', async () => {
    const { dir } = repository();
    const blob = git(dir, 'rev-parse', 'HEAD:a');
    rmSync(join(dir, '.git', 'objects', blob.slice(0, 2), blob.slice(2)));
    const broken = await packed(dir);
    expect(broken.bundle.git).toEqual({ problem: expect.stringMatching(/^(fatal|error):/) });
    expect(existsSync(join(broken.target, '.git'))).toBe(false);
    expect(existsSync(join(broken.target, 'a'))).toBe(true);

    const { dir: fits } = repository();
    const limited = await packed(fits, { maxBytes: 8 });
    expect(limited.bundle.git).toEqual({ problem: 'it would take the bundle over its limit of 8 B' });
    expect(existsSync(join(limited.target, '.git'))).toBe(false);
  });

  it('on a detached HEAD: HEAD names the commit, and git still finds the repository', async () => {
    const { dir, head } = repository();
    git(dir, 'checkout', '-q', '--detach');
    const { target } = await packed(dir);
    expect(git(target, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(target, 'rev-parse', '--git-dir')).toBe('.git');
    expect(git(target, 'status', '--porcelain')).toBe('');
  });

  it('with an empty folder at each submodule, so git sees it not checked out rather than deleted', async () => {
    const { dir, head } = repository();
    git(dir, 'update-index', '--add', '--cacheinfo', `160000,${head},libs/sub`);
    git(dir, 'update-index', '--add', '--cacheinfo', `160000,${head},taken`);
    git(dir, 'commit', '-qm', 'submodules');
    // One submodule's path is a file in the work tree now: bundled as it is, no folder beside it.
    writeFileSync(join(dir, 'taken'), 'a file now\n');
    const { target } = await packed(dir);
    expect(readdirSync(join(target, 'libs', 'sub'))).toEqual([]);
    expect(git(target, 'status', '--porcelain')).toBe('T taken');
  });

  it('not with gitDir false, nor for a subfolder of the work tree, nor before the first commit', async () => {
    const { dir } = repository();
    const without = await packed(dir, { gitDir: false });
    expect(without.bundle.git).toBeUndefined();
    expect(existsSync(join(without.target, '.git'))).toBe(false);

    const folder = await packed(join(dir, 'd'));
    expect(folder.bundle.git).toBeUndefined();
    expect(existsSync(join(folder.target, '.git'))).toBe(false);

    const fresh = tempDir();
    git(fresh, 'init', '-q');
    writeFileSync(join(fresh, 'x'), 'x\n');
    const unborn = await packed(fresh);
    expect(unborn.bundle.git).toBeUndefined();
    expect(existsSync(join(unborn.target, '.git'))).toBe(false);
    expect(existsSync(join(unborn.target, 'x'))).toBe(true);
  });
});

describe('sanitizedRemote', () => {
  it('drops credentials, keeps scp-like remotes, and leaves out what names nothing on a runner', () => {
    expect(sanitizedRemote('https://user:token@example.com:8443/o/r.git')).toBe(
      'https://example.com:8443/o/r.git',
    );
    expect(sanitizedRemote('ssh://git:pw@example.com/o/r.git')).toBe('ssh://git@example.com/o/r.git');
    expect(sanitizedRemote('https://example.com/o/r.git?access_token=t#x')).toBe(
      'https://example.com/o/r.git',
    );
    expect(sanitizedRemote('foo::https://example.com/o/r.git')).toBeUndefined();
    expect(sanitizedRemote('git@github.com:o/r.git')).toBe('git@github.com:o/r.git');
    expect(sanitizedRemote('/srv/git/r.git')).toBeUndefined();
    expect(sanitizedRemote('../r')).toBeUndefined();
    expect(sanitizedRemote('file:///srv/git/r.git')).toBeUndefined();
    expect(sanitizedRemote('https://example.com/o/r"\n[core]')).toBeUndefined();
    expect(sanitizedRemote('')).toBeUndefined();
  });
});
