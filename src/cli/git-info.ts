import { join, resolve } from 'node:path';
import { type GitContext, parseCommitObject } from '../core/git-context.js';
import { readCommitObject, readRegularFile } from './git-objects.js';
import { gitWorkTreeTop } from './git-work-tree.js';

export type GitInfo = Omit<GitContext, 'commit'>;

/** Where HEAD is (`gitDir`), and where the refs, packed-refs, config and objects are (`commonDir`). */
interface GitDirectories {
  readonly gitDir: string;
  readonly commonDir: string;
}

/**
 * readGitInfo, and for a run that starts as a push (`withCommit`) HEAD's commit too, for the push
 * payload: one more object read per run, never per job.
 */
export function readGitContext(workspace: string, withCommit: boolean): GitContext {
  let directories: GitDirectories | undefined;
  let info: GitInfo;
  try {
    directories = gitDirectories(workspace);
    info = readHeadAndOrigin(directories);
  } catch {
    // Extra data for the jobs: an odd .git never stops a run or a submit.
    return {};
  }
  if (!withCommit || info.sha === undefined || directories === undefined) return info;
  try {
    const text = readCommitObject(directories.commonDir, info.sha);
    const commit = text === undefined ? undefined : parseCommitObject(text);
    return commit === undefined ? info : { ...info, commit };
  } catch {
    return info;
  }
}

/**
 * HEAD and the `origin` remote of the repository the workspace is in (its own `.git`, or the nearest
 * folder's above it: gitWorkTreeTop), read from the files under .git (no `git` process: start-up
 * time matters). Absent fields outside a git repository or without an origin.
 */
export function readGitInfo(workspace: string): GitInfo {
  return readHeadAndOrigin(gitDirectories(workspace));
}

/** Nothing outside a work tree (`directories` undefined). */
function readHeadAndOrigin(directories: GitDirectories | undefined): GitInfo {
  if (directories === undefined) return {};
  const { gitDir, commonDir } = directories;
  const head = read(join(gitDir, 'HEAD'));
  // Anything else is no HEAD git wrote: `ref: ../../etc/hostname` would read outside the repository.
  const ref = head?.startsWith('ref: ') ? head.slice(5) : undefined;
  if (head === undefined || (ref === undefined ? !isCommitSha(head) : !isRefName(ref))) return {};
  const origin = originOf(read(join(commonDir, 'config')) ?? '');
  const remote = origin === undefined ? {} : parseRemoteUrl(origin);
  if (ref === undefined) return { sha: head, ...remote };
  const loose = read(join(gitDir, ref)) ?? read(join(commonDir, ref));
  const packed =
    loose === undefined
      ? (read(join(commonDir, 'packed-refs')) ?? '').split('\n').find((l) => l.endsWith(` ${ref}`))
      : undefined;
  const sha = loose ?? packed?.split(' ')[0];
  return { ...(sha !== undefined && isCommitSha(sha) ? { sha } : {}), ref, ...remote };
}

/** A SHA-1 or SHA-256 object name as git writes it. */
function isCommitSha(text: string): boolean {
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(text);
}

/** A ref under `refs/` that stays there: no `..` segment, no backslash, no control character. */
function isRefName(ref: string): boolean {
  return /^refs\/./.test(ref) && !ref.split('/').includes('..') && !/[\\\p{Cc}]/u.test(ref);
}

/**
 * Both `.git` of the work tree's top in a plain checkout; in a linked worktree (`git worktree add`)
 * or a submodule `.git` is a file naming the worktree's own directory, whose `commondir` names the
 * shared one. Undefined outside a work tree.
 */
function gitDirectories(workspace: string): GitDirectories | undefined {
  const top = gitWorkTreeTop(workspace);
  if (top === undefined) return undefined;
  const dotGit = join(top, '.git');
  const pointer = read(dotGit);
  if (pointer === undefined || !pointer.startsWith('gitdir: ')) return { gitDir: dotGit, commonDir: dotGit };
  const gitDir = resolve(top, pointer.slice(8).trim());
  const common = read(join(gitDir, 'commondir'));
  return { gitDir, commonDir: common === undefined ? gitDir : resolve(gitDir, common) };
}

/** The `url` of `[remote "origin"]` in a git config file. */
export function originOf(config: string): string | undefined {
  let inOrigin = false;
  for (const raw of config.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) {
      // Section names are case-insensitive to git; the subsection ("origin") is not.
      inOrigin = /^\[\s*remote\s+"origin"\s*\]$/i.test(line);
      continue;
    }
    const match = inOrigin ? /^url\s*=\s*(.*)$/i.exec(line) : null;
    if (match?.[1] !== undefined) return configValue(match[1]);
  }
  return undefined;
}

/** A git config value: quoted as a whole, or up to an unquoted `#` or `;` comment. */
function configValue(text: string): string {
  const quoted = /^"(.*)"\s*(?:[#;].*)?$/.exec(text.trim());
  if (quoted?.[1] !== undefined) return quoted[1];
  return text.replace(/\s*[#;].*$/, '').trim();
}

/**
 * `repository` and `serverUrl` from a remote URL: `https://github.com/owner/repo(.git)`,
 * `ssh://git@host[:port]/owner/repo.git` or scp-like `git@github.com:owner/repo.git`. An https or
 * http remote keeps its scheme and port; any other (ssh, git) is served over https on its host. A
 * remote that is a local path, or has no `owner/repo` path, gives nothing.
 */
export function parseRemoteUrl(url: string): Pick<GitInfo, 'repository' | 'serverUrl'> {
  let serverUrl: string;
  let path: string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return {};
    }
    if (parsed.hostname === '' || parsed.protocol === 'file:') return {};
    const web = parsed.protocol === 'https:' || parsed.protocol === 'http:';
    // Built from the parts, so credentials in the remote's URL never reach the run.
    serverUrl = web ? `${parsed.protocol}//${parsed.host}` : `https://${parsed.hostname}`;
    try {
      path = decodeURIComponent(parsed.pathname);
    } catch {
      // A stray % (`/o/100%-r`) is no escape: the path as written.
      path = parsed.pathname;
    }
  } else {
    const scp = /^(?:[^@/]+@)?([^:/]+):(.+)$/.exec(url);
    if (scp?.[1] === undefined || scp[2] === undefined) return {};
    serverUrl = `https://${scp[1]}`;
    path = scp[2];
  }
  const repository = path.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '');
  if (!/^[^/]+\/.+$/.test(repository)) return {};
  return { repository, serverUrl };
}

function read(path: string): string | undefined {
  try {
    return readRegularFile(path)?.toString('utf8').trim();
  } catch {
    return undefined;
  }
}
