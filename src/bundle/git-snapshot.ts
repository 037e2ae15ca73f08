import { spawn } from 'node:child_process';
import { mkdir, readdir, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { git } from './workspace-files.js';

/**
 * A file of the snapshot, or a folder with nothing in it (git recognises a repository by its `refs`
 * folder, which a detached HEAD leaves empty): its path in the bundle, under `.git/`, and where it is
 * on disk.
 */
export interface SnapshotFile {
  readonly path: string;
  readonly absolute: string;
  readonly kind: 'file' | 'directory';
}

/**
 * What a bundle carries of the repository: `files` of a `.git` holding HEAD's commit alone, or none
 * with `problem` saying why, when git could not make it (a workspace outside a repository, inside
 * one but not at its top, or with no commit yet has none, and no problem).
 */
export type GitSnapshot =
  | {
      readonly commit: string;
      readonly files: readonly SnapshotFile[];
      /**
       * The submodules' paths in the commit. A bundle leaves their contents out; an empty folder at
       * each is how git sees a submodule not checked out, where a missing one shows as deleted.
       */
      readonly submodules: readonly string[];
    }
  | { readonly commit?: undefined; readonly files: readonly []; readonly problem?: string };

const none: GitSnapshot = { files: [] };

/**
 * A `.git` for the jobs, as actions/checkout leaves one with its default `fetch-depth: 1`: HEAD's
 * commit with its tree and blobs in one pack (a shallow repository, so `git log` ends there), HEAD
 * on the same branch (origin's too), or detached as here, `origin` without any credentials in its
 * URL, and an index of HEAD's tree, so that `git status` and `git diff` in a job show the work
 * tree's changes that were bundled with it. Made under `into` only from git's own output, so the same commit gives the same
 * bytes (a single-threaded pack): the bundle's hash still names the tree.
 *
 * Only for `root` at the top of its work tree: a subfolder's bundle holds part of HEAD's tree, against
 * which every other file would show as deleted.
 */
export async function snapshotGitHead(root: string, into: string): Promise<GitSnapshot> {
  const top = await git(root, ['rev-parse', '--show-toplevel']).catch(() => '');
  if (top.trim() === '' || (await realpath(top.trim())) !== (await realpath(root))) return none;
  const commit = (await git(root, ['rev-parse', '--verify', '-q', 'HEAD^{commit}']).catch(() => '')).trim();
  if (commit === '') return none;
  try {
    const [format, branch, origin] = await Promise.all([
      git(root, ['rev-parse', '--show-object-format']).catch(() => 'sha1'),
      git(root, ['symbolic-ref', '-q', 'HEAD']).catch(() => ''),
      git(root, ['config', '--get', 'remote.origin.url']).catch(() => ''),
    ]);
    const dir = join(into, '.git');
    await mkdir(join(dir, 'objects', 'pack'), { recursive: true });
    await mkdir(join(dir, 'refs', 'tags'), { recursive: true });
    await packCommitObjects(root, commit, join(dir, 'objects', 'pack', 'pack'));
    const ref = branch.trim();
    const remote = sanitizedRemote(origin.trim());
    const onBranch = ref.startsWith('refs/heads/');
    const refs = onBranch ? [ref] : [];
    // As actions/checkout fetches it: the branch is origin's too, so `@{upstream}` and `origin/main` resolve.
    if (onBranch && remote !== undefined) refs.push(`refs/remotes/origin/${ref.slice('refs/heads/'.length)}`);
    for (const name of refs) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), `${commit}\n`);
    }
    await writeFile(join(dir, 'HEAD'), onBranch ? `ref: ${ref}\n` : `${commit}\n`);
    await writeFile(join(dir, 'shallow'), `${commit}\n`);
    await writeFile(join(dir, 'config'), configText(format.trim(), ref, remote));
    await git(root, ['read-tree', commit], { GIT_INDEX_FILE: join(dir, 'index') });
    const submodules = (await git(root, ['ls-tree', '-r', '-z', '--full-tree', commit]))
      .split('\0')
      .filter((line) => line.startsWith('160000 '))
      .map((line) => line.slice(line.indexOf('\t') + 1));
    return { commit, files: await filesUnder(into, '.git'), submodules };
  } catch (error) {
    return { files: [], problem: error instanceof Error ? error.message.split('\n')[0] : String(error) };
  }
}

/**
 * The commit's objects (`rev-list --objects -n 1`: the commit, its trees and blobs), piped into
 * pack-objects. By its name, not HEAD, which a commit made meanwhile would move.
 */
function packCommitObjects(root: string, commit: string, base: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const list = spawn('git', ['rev-list', '--objects', '-n', '1', commit], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pack = spawn('git', ['pack-objects', '--threads=1', '-q', base], {
      cwd: root,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let errors = '';
    const collect = (chunk: Buffer) => {
      errors += chunk.toString();
    };
    list.stderr.on('data', collect);
    pack.stderr.on('data', collect);
    list.stdout.pipe(pack.stdin);
    let listed: number | null | undefined;
    list.on('error', reject);
    pack.on('error', reject);
    list.on('close', (code) => {
      listed = code;
    });
    pack.on('close', (code) => {
      if (code === 0 && listed === 0) resolve();
      else
        reject(
          new Error(`git could not pack the commit's objects: ${errors.trim() || `exit ${code ?? listed}`}`),
        );
    });
  });
}

function configText(objectFormat: string, ref: string, origin: string | undefined): string {
  const sha256 = objectFormat === 'sha256';
  const lines = [
    '[core]',
    `\trepositoryformatversion = ${sha256 ? 1 : 0}`,
    '\tfilemode = true',
    '\tbare = false',
  ];
  if (sha256) lines.push('[extensions]', '\tobjectformat = sha256');
  if (origin !== undefined) {
    lines.push('[remote "origin"]', `\turl = ${origin}`, '\tfetch = +refs/heads/*:refs/remotes/origin/*');
    if (ref.startsWith('refs/heads/')) {
      lines.push(`[branch "${ref.slice('refs/heads/'.length)}"]`, '\tremote = origin', `\tmerge = ${ref}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The origin as a runner may see it: a URL's user name and password are dropped (a token in an
 * https remote is a secret), and a local path or file: URL, which names nothing on the runner, is
 * left out; so is anything that would break the config line.
 */
export function sanitizedRemote(url: string): string | undefined {
  if (url === '' || /[\p{Cc}"\\]/u.test(url)) return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    if (parsed.protocol === 'file:' || parsed.hostname === '') return undefined;
    parsed.username = '';
    parsed.password = '';
    return parsed.href;
  }
  // scp-like `git@host:owner/repo.git`: a user name, never a password.
  return /^(?:[^@/:]+@)?[^:/]+:[^/]/.test(url) ? url : undefined;
}

/** Every file under `prefix`, and every folder with none, sorted by path. */
async function filesUnder(root: string, prefix: string): Promise<SnapshotFile[]> {
  const entries = await readdir(join(root, prefix), { withFileTypes: true });
  if (entries.length === 0) return [{ path: prefix, absolute: join(root, prefix), kind: 'directory' }];
  const out: SnapshotFile[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await filesUnder(root, path)));
    else out.push({ path, absolute: join(root, path), kind: 'file' });
  }
  return out;
}
