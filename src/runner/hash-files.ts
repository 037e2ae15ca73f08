import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { parseGlobPatterns } from './glob-patterns.js';

/**
 * GitHub's `hashFiles(patterns…)`: the SHA-256 of the SHA-256s of every file under the workspace
 * matching the patterns (glob-patterns.ts: @actions/glob's rules, `!` excludes, a directory stands
 * for the files under it), in @actions/glob's order: its search roots one after the other, each
 * depth first (globOrder). Returns '' when nothing matches. As on GitHub a symbolic
 * link to a file is hashed as the file, and one to a directory is not followed. `.git/` is left
 * out, and so is `stateDir`, local mode's state directory, when it is in the workspace — its live
 * database changes under every step — except its `workflows/`, which the workspace's `.github/` on
 * GitHub is the analogue of. Throws on an invalid pattern (`..`), which fails the step as on GitHub.
 */
export function hashFiles(workspace: string, patterns: readonly string[], stateDir?: string): string {
  const globs = parseGlobPatterns(patterns, workspace);
  const matched = listFiles(workspace, stateDir === undefined ? undefined : resolve(stateDir))
    .map((file) => relative(workspace, file).split(sep).join('/'))
    .filter((file) => globs.matches(file))
    .sort((a, b) => rootIndex(globs.searchRoots, a) - rootIndex(globs.searchRoots, b) || globOrder(a, b));
  if (matched.length === 0) return '';
  const outer = createHash('sha256');
  for (const file of matched) {
    outer.update(
      createHash('sha256')
        .update(readFileSync(join(workspace, file)))
        .digest(),
    );
  }
  return outer.digest('hex');
}

/**
 * @actions/glob's order, which the hash depends on: depth first, each directory's entries by name in
 * byte order (as libuv's scandir sorts them). So `app/x` comes before `app-web/x`, which a sort of
 * whole paths would put first, '-' sorting before '/'.
 */
function globOrder(a: string, b: string): number {
  const left = a.split('/');
  const right = b.split('/');
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const l = left[i] ?? '';
    const r = right[i] ?? '';
    if (l !== r) return Buffer.compare(Buffer.from(l), Buffer.from(r));
  }
  return left.length - right.length;
}

/** Which search root a matched file was found under: @actions/glob walks them one after the other. */
function rootIndex(roots: readonly string[], file: string): number {
  return roots.findIndex((root) => root === '' || file === root || file.startsWith(`${root}/`));
}

function listFiles(dir: string, stateDir: string | undefined): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '.git') continue;
    const full = join(dir, entry.name);
    if (full === stateDir) out.push(...stateWorkflows(full));
    else if (entry.isDirectory()) out.push(...listFiles(full, stateDir));
    else if (entry.isFile() || (entry.isSymbolicLink() && linksToFile(full))) out.push(full);
  }
  return out;
}

/** A broken link, or one to a directory, is not hashed. */
function linksToFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

function stateWorkflows(stateDir: string): string[] {
  const workflows = join(stateDir, 'workflows');
  return statSync(workflows, { throwIfNoEntry: false })?.isDirectory() ? listFiles(workflows, undefined) : [];
}
