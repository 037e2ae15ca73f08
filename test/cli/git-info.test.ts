import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-git-folder-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the checkout's HEAD and origin from the nearest folder up that holds .git", () => {
    mkdirSync(join(dir, 'repo', '.git', 'refs', 'heads'), { recursive: true });
    writeFileSync(join(dir, 'repo', '.git', 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(dir, 'repo', '.git', 'refs', 'heads', 'main'), `${'c'.repeat(40)}\n`);
    writeFileSync(
      join(dir, 'repo', '.git', 'config'),
      '[remote "origin"]\n\turl = git@github.com:acme/widgets.git\n',
    );
    mkdirSync(join(dir, 'repo', 'src', 'lib'), { recursive: true });
    const checkout = {
      sha: 'c'.repeat(40),
      ref: 'refs/heads/main',
      repository: 'acme/widgets',
      serverUrl: 'https://github.com',
    };
    expect(readGitInfo(join(dir, 'repo', 'src', 'lib'))).toEqual(checkout);
    expect(readGitInfo(join(dir, 'repo', 'src'))).toEqual(checkout);
    // Outside any repository: nothing, as before.
    mkdirSync(join(dir, 'elsewhere'));
    expect(readGitInfo(join(dir, 'elsewhere'))).toEqual({});
  });
});

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
