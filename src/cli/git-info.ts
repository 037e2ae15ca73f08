import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GitInfo {
  readonly sha?: string;
  readonly ref?: string;
}

/**
 * The checkout's HEAD, read from the files under .git (no `git` process: start-up time matters).
 * Absent fields when the workspace is not a git repository.
 */
export function readGitInfo(workspace: string): GitInfo {
  const gitDir = join(workspace, '.git');
  const head = read(join(gitDir, 'HEAD'));
  if (head === undefined) return {};
  if (!head.startsWith('ref: ')) return { sha: head };
  const ref = head.slice(5);
  const loose = read(join(gitDir, ref));
  if (loose !== undefined) return { sha: loose, ref };
  const packed = read(join(gitDir, 'packed-refs')) ?? '';
  const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
  return { sha: line?.split(' ')[0], ref };
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}
