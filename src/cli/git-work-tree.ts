import { existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { ownedByMe } from './owned-by-me.js';

/**
 * The top of the git work tree `dir` is in, as git finds the repository a command runs in: the
 * nearest folder from `dir` up that holds `.git` (a folder, or the `gitdir:` file of a linked
 * worktree or a submodule); undefined outside one. Only the file system is read (no `git` process:
 * `valkyrie run` asks at start). As git does:
 *
 * - the walk starts at `dir`'s real path, as git's starts at its physical working directory;
 * - it stops below the nearest folder of GIT_CEILING_DIRECTORIES above `dir` (`dir` itself is
 *   always looked in);
 * - a `.git` above `dir` counts only when it and its folder are this user's (git's ownership check,
 *   CVE-2022-24765): another user's `/tmp/.git` would otherwise choose the sha, ref and commit
 *   message of a run started in `/tmp/work`, which `${{ }}` in a `run:` script pastes in as code.
 *   The walk ends there, as git's does. `dir`'s own `.git` is trusted, as the workflow the run
 *   takes from `dir` is.
 *
 * Not as git does: GIT_DIR and GIT_WORK_TREE are not read, a `.git` that is no repository still
 * ends the walk (go-git's DetectDotGit, which nektos/act uses, stops there too; reading it then
 * gives no git context), filesystem boundaries are crossed (GIT_DISCOVERY_ACROSS_FILESYSTEM), and
 * neither safe.directory nor, under sudo, SUDO_UID lets another user's repository count.
 */
export function gitWorkTreeTop(dir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const start = realPath(dir) ?? resolve(dir);
  if (existsSync(join(start, '.git'))) return start;
  const ceilings = ceilingDirectories(env.GIT_CEILING_DIRECTORIES);
  for (let at = start; dirname(at) !== at; ) {
    at = dirname(at);
    if (ceilings.has(at)) return undefined;
    if (existsSync(join(at, '.git'))) return ownedByMe(at) && ownedByMe(join(at, '.git')) ? at : undefined;
  }
  return undefined;
}

/**
 * GIT_CEILING_DIRECTORIES as git reads it: absolute paths separated by `:` (`;` on Windows), each
 * taken by its real path, one that does not exist or is relative left out; after an empty entry the
 * rest are taken as written, not resolved (git's way of sparing a slow network mount the lookup).
 */
function ceilingDirectories(value: string | undefined): ReadonlySet<string> {
  const ceilings = new Set<string>();
  let asWritten = false;
  for (const entry of (value ?? '').split(delimiter)) {
    if (entry === '') asWritten = true;
    if (entry === '' || !isAbsolute(entry)) continue;
    const path = asWritten ? resolve(entry) : realPath(entry);
    if (path !== undefined) ceilings.add(path);
  }
  return ceilings;
}

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
