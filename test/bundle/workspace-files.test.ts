import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, realpathSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, posix, win32 } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isSamePath, listWorkspaceFiles } from '../../src/bundle/workspace-files.js';
import { type TreeEntry, writeTree } from './tree.js';

const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A folder with these files (each holding its own path) and these files with given contents. */
function workspace(paths: readonly string[], contents: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-files-'));
  scratch.push(dir);
  const files = [...paths.map((path) => [path, path]), ...Object.entries(contents)];
  writeTree(
    dir,
    files.map(([path = '', content = '']): TreeEntry => ({ kind: 'file', path, content, mode: 0o644 })),
  );
  return dir;
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: 'pipe' });

describe('the files of a workspace', () => {
  it('outside git: everything but .valkyrie/, .git/, node_modules/ and .gitignore/.valkyrieignore matches', async () => {
    const dir = workspace(
      [
        'src/main.ts',
        'src/main.log',
        'keep.log',
        'build/out.js',
        'docs/secret.txt',
        '.valkyrie/valkyrie.db',
        '.valkyrie/workflows/ci.yml',
        '.git/HEAD',
        'node_modules/x/index.js',
        'packages/a/node_modules/y/index.js',
        'packages/a/.git/config',
      ],
      { '.gitignore': '*.log\n!keep.log\n/build/\n', '.valkyrieignore': '# not shipped\ndocs/secret.txt\n' },
    );
    const files = await listWorkspaceFiles(dir);
    expect(files.source).toBe('folder');
    expect(files.paths).toEqual(['.gitignore', '.valkyrieignore', 'keep.log', 'src/main.ts']);
  });

  it('in git: tracked and new unignored files, minus deleted ones, local state and .valkyrieignore', async () => {
    const dir = workspace(
      [
        'tracked.txt',
        'gone.txt',
        'new.txt',
        'ignored.log',
        'private/key.pem',
        '.valkyrie/workflows/ci.yml',
        '.valkyrie/valkyrie.db',
      ],
      { '.gitignore': '*.log\n', '.valkyrieignore': 'private/\n' },
    );
    git(dir, 'init', '-q');
    git(dir, 'add', '.gitignore', 'tracked.txt', 'gone.txt', '.valkyrie/workflows/ci.yml', 'private/key.pem');
    unlinkSync(join(dir, 'gone.txt'));
    const files = await listWorkspaceFiles(dir);
    expect(files.source).toBe('git');
    expect(files.paths).toEqual([
      '.gitignore',
      '.valkyrie/workflows/ci.yml',
      '.valkyrieignore',
      'new.txt',
      'tracked.txt',
    ]);
  });

  it('in a folder of a git repository: only the files under it, relative to it', async () => {
    const dir = workspace(['top.txt', 'app/main.ts', 'app/lib/util.ts']);
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    const files = await listWorkspaceFiles(join(dir, 'app'));
    expect(files).toEqual({
      source: 'git',
      paths: ['lib/util.ts', 'main.ts'],
      runnerWorkDirs: [],
      nestedRepositories: [],
    });
  });

  // git's own rule: names match their patterns case-sensitively, unless core.ignorecase (a
  // case-insensitive disk) says otherwise; `/[Bb]uild/` in GitHub's templates relies on it.
  it.skipIf(process.platform !== 'linux')(
    'matches ignore files with case, as git does on a case-sensitive disk (core.ignorecase otherwise)',
    async () => {
      const paths = ['Build/main.c', 'build/out.o', 'NOTES.LOG', 'run.log', 'Data/seed.sql', 'data/big.bin'];
      const ignores = { '.gitignore': 'build/\n*.log\n', '.valkyrieignore': 'data/\n' };
      const folder = workspace(paths, ignores);
      expect((await listWorkspaceFiles(folder)).paths).toEqual([
        '.gitignore',
        '.valkyrieignore',
        'Build/main.c',
        'Data/seed.sql',
        'NOTES.LOG',
      ]);
      const checkout = workspace(paths, ignores);
      git(checkout, 'init', '-q');
      git(checkout, 'config', 'core.ignorecase', 'false');
      expect((await listWorkspaceFiles(checkout)).paths).toEqual([
        '.gitignore',
        '.valkyrieignore',
        'Build/main.c',
        'Data/seed.sql',
        'NOTES.LOG',
      ]);
      git(checkout, 'config', 'core.ignorecase', 'true');
      expect((await listWorkspaceFiles(checkout)).paths).toEqual(['.gitignore', '.valkyrieignore']);
    },
  );

  it('in git: names the new folders that are repositories of their own, whose files git does not list', async () => {
    const dir = workspace(['src/main.ts', 'vendor/lib/lib.c', 'vendor/ignored/x.c', 'tools/t.sh'], {
      '.valkyrieignore': 'vendor/ignored/\n',
    });
    git(dir, 'init', '-q');
    for (const nested of ['vendor/lib', 'vendor/ignored']) git(join(dir, nested), 'init', '-q');
    const files = await listWorkspaceFiles(dir);
    expect(files.paths).toEqual(['.valkyrieignore', 'src/main.ts', 'tools/t.sh']);
    expect(files.nestedRepositories).toEqual(['vendor/lib/']);
  });

  it('in git: leaves out tracked files a sparse checkout keeps out of the work tree, and keeps those on disk', async () => {
    const dir = workspace(['app/main.ts', 'docs/guide.md', 'docs/local.md', 'lib/deep/util.ts']);
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'init');
    git(dir, 'sparse-checkout', 'set', '--no-cone', '/app/');
    // Marked skip-worktree too, but put back on disk by hand: it is packed as it is there.
    writeTree(dir, [{ kind: 'file', path: 'docs/local.md', content: 'edited', mode: 0o644 }]);
    const files = await listWorkspaceFiles(dir);
    expect(files.paths).toEqual(['app/main.ts', 'docs/local.md']);
  });

  it('in a git repository that git refuses: says why, rather than packing it as a plain folder', async () => {
    const dir = workspace(['src/main.ts', 'build/out.js'], { '.gitignore': 'build/\n' });
    git(dir, 'init', '-q');
    // What git does in a CI container whose user does not own the checkout (git's own test switch).
    vi.stubEnv('GIT_TEST_ASSUME_DIFFERENT_OWNER', '1');
    try {
      await expect(listWorkspaceFiles(dir)).rejects.toMatchObject({
        code: 'VK_BUNDLE_GIT',
        message: expect.stringContaining(
          `(fatal: detected dubious ownership in repository at '${realpathSync(dir)}'; ` +
            `to trust it: git config --global --add safe.directory ${realpathSync(dir)}); nothing was uploaded`,
        ),
      });
      // Another user's repository above the workspace is not its own (a planted /tmp/.git): a folder.
      expect((await listWorkspaceFiles(join(dir, 'src'))).source).toBe('folder');
    } finally {
      vi.unstubAllEnvs();
    }
    writeTree(dir, [{ kind: 'file', path: '.git/config', content: '[core\n', mode: 0o644 }]);
    await expect(listWorkspaceFiles(dir)).rejects.toMatchObject({
      code: 'VK_BUNDLE_GIT',
      message: expect.stringContaining(
        '(fatal: bad config line 1 in file .git/config); nothing was uploaded',
      ),
    });
  });

  it("with a git that cannot run at all (macOS's /usr/bin/git without the developer tools): a plain folder, as without git", async () => {
    const dir = workspace(['src/main.ts', 'build/out.js'], { '.gitignore': 'build/\n' });
    // The shim Apple ships as /usr/bin/git answers every command so while the tools are not there.
    const bin = workspace([], {
      git:
        '#!/bin/sh\necho "xcrun: error: invalid active developer path (/Library/Developer/CommandLineTools),' +
        ' missing xcrun at: /Library/Developer/CommandLineTools/usr/bin/xcrun" >&2\nexit 1\n',
    });
    chmodSync(join(bin, 'git'), 0o755);
    vi.stubEnv('PATH', `${bin}${delimiter}${process.env.PATH ?? ''}`);
    try {
      const files = await listWorkspaceFiles(dir);
      expect(files).toMatchObject({ source: 'folder', paths: ['.gitignore', 'src/main.ts'] });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("takes git's name of a refused repository for the workspace's as git writes it on each platform", () => {
    // git for Windows: "detected dubious ownership in repository at 'C:/work/app'".
    expect(isSamePath('C:/work/app', 'C:\\work\\app', win32)).toBe(true);
    expect(isSamePath('c:/Work/App', 'C:\\work\\app', win32)).toBe(true);
    expect(isSamePath('C:/work', 'C:\\work\\app', win32)).toBe(false);
    expect(isSamePath('/srv/app', '/srv/app', posix)).toBe(true);
    expect(isSamePath('/srv/App', '/srv/app', posix)).toBe(false);
    expect(isSamePath('/srv', '/srv/app', posix)).toBe(false);
  });

  const credential = JSON.stringify({
    server: 'http://ci:7070',
    runnerId: 'rnr_1',
    credential: 'vkr.secret',
  });
  const runnerDir = {
    'ci-runner/runner.json': credential,
    'ci-runner/runner.lock': '{}',
    'ci-runner/jobs/1/src/main.ts': 'an earlier bundle, unpacked',
  };

  it("in git: leaves out the new files of a runner's work dir, and keeps a runner.json that holds no credential", async () => {
    const dir = workspace(['src/main.ts', 'tracked-runner/runner.json'], {
      ...runnerDir,
      'config/runner.json': '{"runnerId": 3}',
    });
    git(dir, 'init', '-q');
    git(dir, 'add', 'src/main.ts', 'tracked-runner/runner.json');
    const files = await listWorkspaceFiles(dir);
    expect(files).toEqual({
      source: 'git',
      paths: ['config/runner.json', 'src/main.ts', 'tracked-runner/runner.json'],
      runnerWorkDirs: ['ci-runner'],
      nestedRepositories: [],
    });
  });

  it("outside git: leaves out a runner's work dir; a workspace that is one keeps all but the runner's files", async () => {
    const folder = workspace(['src/main.ts'], runnerDir);
    expect(await listWorkspaceFiles(folder)).toEqual({
      source: 'folder',
      paths: ['src/main.ts'],
      runnerWorkDirs: ['ci-runner'],
      nestedRepositories: [],
    });
    const itself = workspace(['notes.txt'], { 'runner.json': credential, 'runner.lock': '{}' });
    expect(await listWorkspaceFiles(itself)).toEqual({
      source: 'folder',
      paths: ['notes.txt'],
      runnerWorkDirs: [''],
      nestedRepositories: [],
    });
  });
});
