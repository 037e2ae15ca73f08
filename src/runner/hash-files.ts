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
    // Each file's place computed once, not again at each of the sort's comparisons.
    .map((file) => ({ file, root: rootIndex(globs.searchRoots, file), names: namesOf(file) }))
    .sort((a, b) => a.root - b.root || globOrder(a.names, b.names))
    .map(({ file }) => file);
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
 * whole paths would put first, '-' sorting before '/'. `a` and `b`: the names along each path (namesOf).
 */
function globOrder(a: readonly Buffer[], b: readonly Buffer[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = Buffer.compare(a[i] ?? empty, b[i] ?? empty);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

const empty = Buffer.alloc(0);

/** The names along a workspace path, as bytes for globOrder. */
function namesOf(path: string): Buffer[] {
  return path.split('/').map((name) => Buffer.from(name));
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
