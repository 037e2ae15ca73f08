import { mkdir, readdir, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { byCodeUnits, git, gitProblem } from './workspace-files.js';

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
 * Settings that would change the bytes git writes for the same commit, pinned (with
 * `--no-reuse-object`, which recompresses every object instead of copying it as this repository's
 * own packs hold it): so one git version makes the same snapshot of a commit on every machine, and
 * the bundle's hash still names the tree. Credential prompts are off, so a submit never waits on a
 * terminal for its `.git`; so are lazy fetches of a partial clone's missing objects, but only from
 * git 2.44, which reads GIT_NO_LAZY_FETCH (older ones fetch them).
 */
const pinned = [
  ['core.compression', '6'],
  ['pack.compression', '6'],
  ['pack.window', '10'],
  ['pack.depth', '50'],
  ['pack.threads', '1'],
  ['pack.writeReverseIndex', 'false'],
  ['pack.indexVersion', '2'],
  ['index.version', '2'],
  ['index.skipHash', 'false'],
  ['feature.manyFiles', 'false'],
].flatMap(([key, value]) => ['-c', `${key}=${value}`]);
const offline = { GIT_NO_LAZY_FETCH: '1', GIT_TERMINAL_PROMPT: '0' };
const pinnedGit = (
  root: string,
  args: readonly string[],
  { env, input }: { readonly env?: Record<string, string>; readonly input?: string } = {},
) =>
  git(root, [...pinned, ...args], { env: { ...offline, ...env }, ...(input === undefined ? {} : { input }) });

/**
 * A `.git` for the jobs, as actions/checkout leaves one with its default `fetch-depth: 1`: HEAD's
 * commit with its tree and blobs in one pack (a shallow repository, so `git log` ends there), HEAD
 * on the same branch (origin's too), or detached as here, `origin` without any password in its URL,
 * and an index of HEAD's tree, so that `git status` and `git diff` in a job show the work tree's
 * changes that were bundled with it. Made under `into` from git's own output with `pinned` settings.
 *
 * Only for `root` at the top of its work tree: a subfolder's bundle holds part of HEAD's tree, against
 * which every other file would show as deleted.
 */
export async function snapshotGitHead(root: string, into: string): Promise<GitSnapshot> {
  try {
    const top = (await git(root, ['rev-parse', '--show-toplevel']).catch(() => '')).trim();
    if (top === '' || (await realpath(top)) !== (await realpath(root))) return none;
    const commit = (await git(root, ['rev-parse', '--verify', '-q', 'HEAD^{commit}']).catch(() => '')).trim();
    if (commit === '') return none;
    const [format, branch, origin] = await Promise.all([
      git(root, ['rev-parse', '--show-object-format']).catch(() => 'sha1'),
      git(root, ['symbolic-ref', '-q', 'HEAD']).catch(() => ''),
      // Every url, for the first: the one git fetches from, and the first the run's git context takes
      // (git-info.ts originOf, which reads the repository's own config only); `--get` gives the last.
      git(root, ['config', '--get-all', 'remote.origin.url']).catch(() => ''),
    ]);
    const dir = join(into, '.git');
    await mkdir(join(dir, 'objects', 'pack'), { recursive: true });
    await mkdir(join(dir, 'refs', 'tags'), { recursive: true });
    // By its name, not HEAD, which a commit made meanwhile would move.
    const objects = await pinnedGit(root, ['rev-list', '--objects', '-n', '1', commit]);
    const packBase = join(dir, 'objects', 'pack', 'pack');
    await pinnedGit(root, ['pack-objects', '--no-reuse-object', '-q', packBase], { input: objects });
    const ref = branch.trim();
    const remote = sanitizedRemote(origin.split('\n')[0]?.trim() ?? '');
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
    await pinnedGit(root, ['read-tree', commit], { env: { GIT_INDEX_FILE: join(dir, 'index') } });
    const submodules = (await pinnedGit(root, ['ls-tree', '-r', '-z', '--full-tree', commit]))
      .split('\0')
      .filter((line) => line.startsWith('160000 '))
      .map((line) => line.slice(line.indexOf('\t') + 1));
    return { commit, files: await filesUnder(into, '.git'), submodules };
  } catch (error) {
    return { files: [], problem: gitProblem(error) };
  }
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
    lines.push(
      '[remote "origin"]',
      `\turl = ${quoted(origin)}`,
      '\tfetch = +refs/heads/*:refs/remotes/origin/*',
    );
    if (ref.startsWith('refs/heads/')) {
      lines.push(
        `[branch ${quoted(ref.slice('refs/heads/'.length))}]`,
        '\tremote = origin',
        `\tmerge = ${quoted(ref)}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A config value or subsection name in double quotes, `\` and `"` escaped: a branch may be named
 * `a"b` or `x#y;z`, which unquoted would break the file or start a comment.
 */
function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The origin as a runner may see it: a password in a URL is dropped, and for http(s), where a token
 * often stands as the user name or in the query, the user name, query and fragment too (an ssh URL
 * keeps its user, `git@`). A local path or file: URL, which names nothing on the runner, is left out,
 * and so is a remote helper's `name::address` (it would run `git-remote-name` on the runner).
 */
export function sanitizedRemote(url: string): string | undefined {
  if (url === '' || /\p{Cc}/u.test(url) || /^[A-Za-z0-9+.-]+::/.test(url)) return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    if (parsed.protocol === 'file:' || parsed.hostname === '') return undefined;
    parsed.password = '';
    if (parsed.protocol === 'https:' || parsed.protocol === 'http:') {
      parsed.username = '';
      parsed.search = '';
      parsed.hash = '';
    }
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
  for (const entry of entries.sort((a, b) => byCodeUnits(a.name, b.name))) {
    const path = `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await filesUnder(root, path)));
    else out.push({ path, absolute: join(root, path), kind: 'file' });
  }
  return out;
}
