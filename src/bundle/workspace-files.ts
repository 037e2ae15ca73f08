import { execFile } from 'node:child_process';
import { lstat, readdir, readFile, realpath } from 'node:fs/promises';
import path, { join, type PlatformPath } from 'node:path';
import ignore from 'ignore';
import { ValkyrieError } from '../core/errors.js';
import { entryReadError } from './entry-read-errors.js';
import { outsideWorkDirs, runnerWorkDirs } from './runner-work-dirs.js';

/** Where a bundle's file list came from: git's index and untracked files, or a walk of the folder. */
export type FileSource = 'git' | 'folder';

export interface WorkspaceFiles {
  readonly source: FileSource;
  /** Paths relative to the workspace, `/`-separated, sorted, without duplicates. */
  readonly paths: readonly string[];
  /** Runner work dirs left out (runner-work-dirs.ts); `''`: the workspace is one, its runner files left out. */
  readonly runnerWorkDirs: readonly string[];
  /**
   * In a git work tree, the new folders that are git repositories of their own (not submodules),
   * whose files git lists none of, so none are packed; `/`-terminated, as git names them.
   */
  readonly nestedRepositories: readonly string[];
}

/** Outside git, left out by default; a `!` line in `.gitignore` or `.valkyrieignore` takes one back. */
const folderDefaults = ['/.valkyrie/', '.git/', 'node_modules/'];

/** The file a user writes to keep paths out of bundles, in git repositories and outside them. */
export const bundleIgnoreFile = '.valkyrieignore';

/**
 * The files a bundle of `root` holds.
 *
 * In a git work tree: what `git ls-files --cached --others --exclude-standard` lists under `root` —
 * tracked files plus new files that are not ignored, as they are on disk (tracked files deleted from
 * the work tree, or kept out of it by a sparse checkout, are left out) — minus untracked files
 * under `.valkyrie/` (local state) and paths matched by a top-level `.valkyrieignore`.
 *
 * Elsewhere: every file under `root` except `.valkyrie/` at the top, `.git/` and `node_modules/` at
 * any depth, and paths matched by a top-level `.gitignore` or `.valkyrieignore` (gitignore syntax).
 *
 * Patterns match with case, as git's do, unless the repository's `core.ignorecase` says otherwise
 * (git sets it on a case-insensitive disk); outside git, without case on macOS and Windows only.
 *
 * In both, without the untracked files of a Valkyrie runner's work dir (runner-work-dirs.ts).
 */
export async function listWorkspaceFiles(root: string): Promise<WorkspaceFiles> {
  const bundleIgnores = await readIgnoreFile(join(root, bundleIgnoreFile));
  if (await isGitWorkTree(root)) {
    // `-t` tags each tracked path (`H path`); `S`: skip-worktree, which `--deleted` does not list.
    const [tagged, others, deleted, ignorecase] = await Promise.all([
      gitList(root, ['--cached', '-t']),
      gitList(root, ['--others', '--exclude-standard']),
      gitList(root, ['--deleted']),
      // Unset (exit 1): false, git's default.
      git(root, ['config', '--type=bool', '--get', 'core.ignorecase']).catch(() => 'false'),
    ]);
    const extra = ignore({ ignorecase: ignorecase.trim() === 'true' }).add(bundleIgnores);
    const cached = tagged.map((line) => line.slice(2));
    const skipWorktree = tagged.filter((line) => line.startsWith('S ')).map((line) => line.slice(2));
    const gone = new Set([...deleted, ...(await absentFrom(root, skipWorktree))]);
    const state = (path: string) => path === '.valkyrie' || path.startsWith('.valkyrie/');
    // Only new files can be a runner's: tracked ones were committed on purpose.
    const untracked = others.filter((path) => !state(path) && !extra.ignores(path));
    const runnerDirs = await runnerWorkDirs(root, untracked);
    const tracked = cached.filter((path) => !gone.has(path) && !extra.ignores(path));
    // git does not look into a new folder that holds a repository: it lists the folder alone, `dir/`.
    const nested = untracked.filter((path) => path.endsWith('/'));
    const files = untracked.filter((path) => !path.endsWith('/'));
    return {
      source: 'git',
      paths: sortUnique([...tracked, ...outsideWorkDirs(files, runnerDirs)]),
      runnerWorkDirs: runnerDirs,
      nestedRepositories: sortUnique(outsideWorkDirs(nested, runnerDirs)),
    };
  }
  // Outside git nothing says how the disk compares names: the platform's usual one is taken.
  const rules = ignore({ ignorecase: process.platform === 'darwin' || process.platform === 'win32' })
    .add(folderDefaults)
    .add(await readIgnoreFile(join(root, '.gitignore')))
    .add(bundleIgnores);
  const paths: string[] = [];
  await walk(root, '', rules, paths);
  const runnerDirs = await runnerWorkDirs(root, paths);
  return {
    source: 'folder',
    paths: sortUnique(outsideWorkDirs(paths, runnerDirs)),
    runnerWorkDirs: runnerDirs,
    nestedRepositories: [],
  };
}

async function walk(root: string, prefix: string, rules: ignore.Ignore, out: string[]): Promise<void> {
  const entries = await readdir(join(root, prefix), { withFileTypes: true }).catch((error: unknown) => {
    throw entryReadError(
      prefix === '' ? './' : `${prefix}/`,
      error,
      'the folder vanished while it was listed',
    );
  });
  for (const entry of entries) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!rules.ignores(`${path}/`)) await walk(root, path, rules, out);
    } else if ((entry.isFile() || entry.isSymbolicLink()) && !rules.ignores(path)) {
      out.push(path);
    }
  }
}

async function readIgnoreFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/**
 * Whether `root` is in a git work tree, as git finds it: false when git is not installed, cannot run
 * (`git --version` fails too) or finds no repository, or when the repository is another user's and
 * lies above `root` (a `/tmp/.git` someone planted: the run's git context does not take it either,
 * cli/git-work-tree.ts). Any other refusal
 * is thrown (VK_BUNDLE_GIT): `root`'s own repository of another user that safe.directory does not
 * trust (a CI container whose user is not the checkout's owner), or a damaged `.git/config`. Taken
 * for no repository, it would be packed as a plain folder, with other files (ignored ones, no
 * `.git`) and not a word said.
 */
async function isGitWorkTree(root: string): Promise<boolean> {
  try {
    // English messages whatever the locale: "not a git repository" is read below.
    const inside = await git(root, ['rev-parse', '--is-inside-work-tree'], { env: { LC_ALL: 'C' } });
    return inside.trim() === 'true';
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || message.includes('not a git repository'))
      return false;
    // A git that cannot run at all is as good as none (macOS's /usr/bin/git shim without the
    // developer tools fails every command): no repository of the workspace refused anything.
    if (!(await gitRuns(root))) return false;
    const untrusted = /dubious ownership in repository at '(.*)'/.exec(message)?.[1];
    if (untrusted !== undefined && !isSamePath(untrusted, await realpath(root))) return false;
    const lines = message.split('\n').map((line) => line.trim());
    const trust = lines.find((line) => line.startsWith('git config --global --add safe.directory'));
    throw new ValkyrieError(
      'VK_BUNDLE_GIT',
      `cannot bundle the workspace: git refused its repository (${gitProblem(error)}` +
        `${trust === undefined ? '' : `; to trust it: ${trust}`}); nothing was uploaded`,
    );
  }
}

/**
 * Whether git's name of a folder is `realRoot`: on Windows git writes `C:/work/app` where node's
 * realpath gives `C:\work\app`, and names compare without case there.
 */
export function isSamePath(
  gitPath: string,
  realRoot: string,
  paths: Pick<PlatformPath, 'relative'> = path,
): boolean {
  return paths.relative(gitPath, realRoot) === '';
}

/** Whether git answers a command that needs no repository. */
function gitRuns(cwd: string): Promise<boolean> {
  return git(cwd, ['--version']).then(
    () => true,
    () => false,
  );
}

/** git's own reason (its last `fatal:` or `error:` line), not node's "Command failed: git …". */
export function gitProblem(error: unknown): string {
  const lines = (error instanceof Error ? error.message : String(error)).split('\n').map((l) => l.trim());
  return lines.findLast((line) => /^(fatal|error):/.test(line)) ?? lines[0] ?? 'git failed';
}

async function gitList(root: string, flags: readonly string[]): Promise<string[]> {
  const output = await git(root, ['ls-files', '-z', ...flags]);
  return output.split('\0').filter((path) => path !== '');
}

/**
 * Of the tracked files marked skip-worktree, those not on disk: the ones a sparse checkout keeps out
 * of the work tree. Left in the list they would seem to vanish while the bundle is made, every time.
 * One on disk is packed as it is there.
 */
async function absentFrom(root: string, skipWorktree: readonly string[]): Promise<string[]> {
  /** What is at `path`: nothing, a folder, something else, or what lstat could not tell (packing says). */
  const found = (path: string) =>
    lstat(join(root, path)).then(
      (stat) => (stat.isDirectory() ? 'folder' : 'other'),
      (error: unknown) =>
        ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '') ? 'nothing' : 'unknown',
    );
  // A sparse checkout leaves out whole folders: one look at a folder answers for all its files.
  const folders = new Map<string, Promise<boolean>>();
  const folderAbsent = (folder: string) => {
    let answer = folders.get(folder);
    if (answer === undefined) {
      answer = found(folder).then((what) => what === 'nothing' || what === 'other');
      folders.set(folder, answer);
    }
    return answer;
  };
  const isAbsent = async (path: string) => {
    const slash = path.lastIndexOf('/');
    if (slash > 0 && (await folderAbsent(path.slice(0, slash)))) return true;
    return (await found(path)) === 'nothing';
  };
  const absent: string[] = [];
  // A few at a time: a sparse monorepo has hundreds of thousands, and a promise each at once costs
  // memory and time for nothing (libuv runs four at a time).
  for (let start = 0; start < skipWorktree.length; start += 64) {
    const batch = skipWorktree.slice(start, start + 64);
    const gone = await Promise.all(batch.map(isAbsent));
    absent.push(...batch.filter((_, index) => gone[index]));
  }
  return absent;
}

/**
 * git's standard output; `env` is added to this process's environment, and `input`, when given, is
 * its standard input. A git that exits before reading all of the input fails with its stderr, as
 * any other failure does, never with an unhandled EPIPE.
 */
export function git(
  cwd: string,
  args: readonly string[],
  { env, input }: { readonly env?: Record<string, string>; readonly input?: string } = {},
): Promise<string> {
  const options = { cwd, maxBuffer: 1 << 30, encoding: 'utf8' as const };
  return new Promise((resolve, reject) => {
    const child = execFile(
      'git',
      [...args],
      env === undefined ? options : { ...options, env: { ...process.env, ...env } },
      (error, stdout) => (error ? reject(error) : resolve(stdout)),
    );
    if (input === undefined) return;
    // The exit status says why it stopped reading; execFile's callback reports it.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input);
  });
}

/** UTF-16 code-unit order: the same on every machine, whatever its locale. */
export const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sortUnique(paths: readonly string[]): string[] {
  return [...new Set(paths)].sort(byCodeUnits);
}
