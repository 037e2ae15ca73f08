import {
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { originOf, parseRemoteUrl, readGitInfo } from '../../src/cli/git-info.js';

describe('parseRemoteUrl', () => {
  it('reads owner/repo and the server from https, ssh and scp-like remotes', () => {
    const github = { repository: 'acme/widgets', serverUrl: 'https://github.com' };
    expect(parseRemoteUrl('https://github.com/acme/widgets.git')).toEqual(github);
    expect(parseRemoteUrl('https://github.com/acme/widgets')).toEqual(github);
    expect(parseRemoteUrl('https://github.com/acme/widgets/')).toEqual(github);
    expect(parseRemoteUrl('git@github.com:acme/widgets.git')).toEqual(github);
    expect(parseRemoteUrl('github.com:acme/widgets')).toEqual(github);
    expect(parseRemoteUrl('ssh://git@github.com/acme/widgets.git')).toEqual(github);
    expect(parseRemoteUrl('ssh://git@git.example.com:2222/team/app.git')).toEqual({
      repository: 'team/app',
      serverUrl: 'https://git.example.com',
    });
    expect(parseRemoteUrl('http://git.local:8080/group/sub/app.git')).toEqual({
      repository: 'group/sub/app',
      serverUrl: 'http://git.local:8080',
    });
  });

  it('keeps credentials out, and gives nothing for a local path or a URL without owner/repo', () => {
    expect(parseRemoteUrl('https://x-access-token:ghp_secret@github.com/acme/widgets.git')).toEqual({
      repository: 'acme/widgets',
      serverUrl: 'https://github.com',
    });
    expect(parseRemoteUrl('/srv/git/widgets.git')).toEqual({});
    expect(parseRemoteUrl('../widgets')).toEqual({});
    expect(parseRemoteUrl('file:///srv/git/acme/widgets.git')).toEqual({});
    expect(parseRemoteUrl('https://github.com/widgets')).toEqual({});
  });
});

describe('originOf', () => {
  it("reads the origin remote's url, not another remote's", () => {
    const config = [
      '[core]',
      '\tbare = false',
      '[remote "upstream"]',
      '\turl = https://github.com/other/widgets.git',
      '[remote "origin"]',
      '\tfetch = +refs/heads/*:refs/remotes/origin/*',
      '\turl = git@github.com:acme/widgets.git',
      '[branch "main"]',
      '\tremote = origin',
    ].join('\n');
    expect(originOf(config)).toBe('git@github.com:acme/widgets.git');
    expect(originOf('[remote "upstream"]\n\turl = x:y/z\n')).toBeUndefined();
  });

  it('reads it as git does: a section name in any case, a comment after the value, a quoted value', () => {
    expect(originOf('[Remote "origin"]\n\turl = https://github.com/o/r.git ; the old one\n')).toBe(
      'https://github.com/o/r.git',
    );
    expect(originOf('[remote "origin"]\n\turl = "git@github.com:o/r.git" # quoted\n')).toBe(
      'git@github.com:o/r.git',
    );
  });
});

describe('parseRemoteUrl of odd remotes', () => {
  it('takes a stray % in the path as written, rather than failing every run in that repository', () => {
    expect(parseRemoteUrl('https://github.com/o/100%-r')).toEqual({
      repository: 'o/100%-r',
      serverUrl: 'https://github.com',
    });
  });
});

describe('readGitInfo', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-git-info-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('adds the repository and server of the origin remote to HEAD', () => {
    mkdirSync(join(dir, '.git', 'refs', 'heads'), { recursive: true });
    writeFileSync(join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(dir, '.git', 'refs', 'heads', 'main'), `${'a'.repeat(40)}\n`);
    expect(readGitInfo(dir)).toEqual({ sha: 'a'.repeat(40), ref: 'refs/heads/main' });
    writeFileSync(
      join(dir, '.git', 'config'),
      '[remote "origin"]\n\turl = https://github.com/acme/widgets.git\n',
    );
    expect(readGitInfo(dir)).toEqual({
      sha: 'a'.repeat(40),
      ref: 'refs/heads/main',
      repository: 'acme/widgets',
      serverUrl: 'https://github.com',
    });
  });
});

describe('readGitInfo in a folder of a checkout', () => {
  // Its real path: GIT_CEILING_DIRECTORIES is compared with real paths, as git compares them.
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'valkyrie-git-folder-')));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const checkout = {
    sha: 'c'.repeat(40),
    ref: 'refs/heads/main',
    repository: 'acme/widgets',
    serverUrl: 'https://github.com',
  };
  const lib = join(dir, 'repo', 'src', 'lib');

  /** A checkout's .git at `path`, HEAD on main at `checkout.sha`, and an empty folder `sub`. */
  function writeCheckout(path: string): void {
    mkdirSync(join(path, '.git', 'refs', 'heads'), { recursive: true });
    mkdirSync(join(path, 'sub'));
    writeFileSync(join(path, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(path, '.git', 'refs', 'heads', 'main'), `${checkout.sha}\n`);
    writeFileSync(
      join(path, '.git', 'config'),
      '[remote "origin"]\n\turl = git@github.com:acme/widgets.git\n',
    );
  }

  beforeAll(() => {
    writeCheckout(join(dir, 'repo'));
    mkdirSync(lib, { recursive: true });
  });

  it("reads the checkout's HEAD and origin from the nearest folder up that holds .git", () => {
    expect(readGitInfo(lib)).toEqual(checkout);
    expect(readGitInfo(join(dir, 'repo', 'src'))).toEqual(checkout);
  });

  it.skipIf(repositoryAbove(dir))('gives nothing in a folder with no repository above it', () => {
    mkdirSync(join(dir, 'elsewhere', 'deeper'), { recursive: true });
    expect(readGitInfo(join(dir, 'elsewhere', 'deeper'))).toEqual({});
  });

  it('walks up from the real path, as git does from its physical working directory', () => {
    symlinkSync(lib, join(dir, 'lib-link'));
    expect(readGitInfo(join(dir, 'lib-link'))).toEqual(checkout);
  });

  it('looks in no folder of GIT_CEILING_DIRECTORIES nor above one, as git does', () => {
    const readWithCeilings = (...ceilings: string[]) => {
      vi.stubEnv('GIT_CEILING_DIRECTORIES', ceilings.join(delimiter));
      try {
        return readGitInfo(lib);
      } finally {
        vi.unstubAllEnvs();
      }
    };
    expect(readWithCeilings(join(dir, 'repo', 'src'))).toEqual({});
    expect(readWithCeilings(join(dir, 'repo'))).toEqual({});
    expect(readWithCeilings(dir, join(dir, 'other'))).toEqual(checkout);
    // The workspace itself is looked in (and above it) though it is a ceiling; a relative one is left out.
    expect(readWithCeilings(lib, 'repo')).toEqual(checkout);
    // A ceiling is taken by its real path, except after an empty entry.
    symlinkSync(join(dir, 'repo', 'src'), join(dir, 'src-link'));
    expect(readWithCeilings(join(dir, 'src-link'))).toEqual({});
    expect(readWithCeilings('', join(dir, 'src-link'))).toEqual(checkout);
    // A workspace at the top of its checkout reads its own .git whatever the ceilings.
    vi.stubEnv('GIT_CEILING_DIRECTORIES', join(dir, 'repo'));
    try {
      expect(readGitInfo(join(dir, 'repo'))).toEqual(checkout);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  // Files of another user can be made only by root.
  it.skipIf(process.getuid?.() !== 0)(
    "takes no .git above the workspace that is another user's, or in another user's folder",
    () => {
      const shared = join(dir, 'shared');
      writeCheckout(shared);
      chownSync(shared, 4242, 4242);
      expect(readGitInfo(join(shared, 'sub'))).toEqual({});
      // The workspace's own .git is trusted, as the workflow taken from it is.
      expect(readGitInfo(shared)).toEqual(checkout);
      chownSync(shared, 0, 0);
      chownSync(join(shared, '.git'), 4242, 4242);
      expect(readGitInfo(join(shared, 'sub'))).toEqual({});
      chownSync(join(shared, '.git'), 0, 0);
      expect(readGitInfo(join(shared, 'sub'))).toEqual(checkout);
    },
  );
});

/** Whether a folder from `path` up holds .git: a folder under it is then never outside a repository. */
function repositoryAbove(path: string): boolean {
  for (let at = path; ; at = dirname(at)) {
    if (existsSync(join(at, '.git'))) return true;
    if (dirname(at) === at) return false;
  }
}

describe('readGitInfo in a linked worktree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-git-worktree-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('follows .git to the worktree for HEAD and to the common directory for refs and the origin', () => {
    const common = join(dir, 'main', '.git');
    const own = join(common, 'worktrees', 'feature');
    mkdirSync(own, { recursive: true });
    mkdirSync(join(dir, 'feature'));
    writeFileSync(join(dir, 'feature', '.git'), `gitdir: ${own}\n`);
    writeFileSync(join(own, 'HEAD'), 'ref: refs/heads/feature\n');
    writeFileSync(join(own, 'commondir'), '../..\n');
    writeFileSync(
      join(common, 'packed-refs'),
      `# pack-refs with: peeled\n${'f'.repeat(40)} refs/heads/feature\n`,
    );
    writeFileSync(join(common, 'config'), '[remote "origin"]\n\turl = git@github.com:acme/widgets.git\n');
    const feature = {
      sha: 'f'.repeat(40),
      ref: 'refs/heads/feature',
      repository: 'acme/widgets',
      serverUrl: 'https://github.com',
    };
    expect(readGitInfo(join(dir, 'feature'))).toEqual(feature);
    // From a folder inside the worktree, its own .git file is the nearest.
    mkdirSync(join(dir, 'feature', 'docs'));
    expect(readGitInfo(join(dir, 'feature', 'docs'))).toEqual(feature);
  });
});
