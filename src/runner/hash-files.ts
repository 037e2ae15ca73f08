import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { parseGlobPatterns } from './glob-patterns.js';

/**
 * GitHub's `hashFiles(patterns…)`: the SHA-256 of the SHA-256s of every file under the workspace
 * matching the patterns (glob-patterns.ts: @actions/glob's rules, `!` excludes, a directory stands
 * for the files under it), in @actions/glob's order: its search roots one after the other, each
 * depth first (globOrder). Returns '' when nothing matches. As on GitHub a symbolic link to a file
 * is hashed as the file, a broken one that matches fails, and one to a directory is not followed —
 * unless the first argument is `--follow-symbolic-links` (any case), the runner's one option: then
 * links to directories are walked too, and a broken one or one back up the tree (a cycle) is left
 * out, as @actions/glob does. Any other first argument starting with `--` is an error, as in the
 * runner. `.git/` is left out, and so is `stateDir`, local mode's state directory, when it is in the workspace — its live
 * database changes under every step — except its `workflows/`, which the workspace's `.github/` on
 * GitHub is the analogue of. Throws on an invalid pattern (`..`), which fails the step as on GitHub.
 */
export function hashFiles(workspace: string, args: readonly string[], stateDir?: string): string {
  const { follow, patterns } = readOption(args);
  const globs = parseGlobPatterns(patterns, workspace);
  const walk: Walk = {
    stateDir: stateDir === undefined ? undefined : resolve(stateDir),
    followChain: follow ? [realpathSync(workspace)] : undefined,
  };
  const files: string[] = [];
  listFiles(workspace, walk, files);
  const matched = files
    .map((file) => relative(workspace, file).split(sep).join('/'))
    .filter((file) => globs.matches(file))
    // Each file's place computed once, not again at each of the sort's comparisons.
    .map((file) => ({ file, root: rootIndex(globs.searchRoots, file), names: namesOf(file) }))
    .sort((a, b) => a.root - b.root || globOrder(a.names, b.names))
    .map(({ file }) => file);
  if (matched.length === 0) return '';
  const outer = createHash('sha256');
  for (const file of matched) outer.update(createHash('sha256').update(readMatch(workspace, file)).digest());
  return outer.digest('hex');
}

/**
 * A matched file's bytes. Only a broken link can be missing here (listFiles); GitHub's hashFiles
 * script stats it, which throws, and the step fails: so it does here, saying how to leave it out.
 */
function readMatch(workspace: string, file: string): Buffer {
  try {
    return readFileSync(join(workspace, file));
  } catch (error) {
    if (!isMissing(error)) throw error;
    throw new Error(
      `${file} is a broken symbolic link: GitHub's hashFiles() fails on it too; leave it out with '!${file}'`,
      { cause: error },
    );
  }
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
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

const followOption = '--follow-symbolic-links';

/** The runner's reading of the first argument: its one option, or an error for any other `--…`. */
function readOption(args: readonly string[]): { follow: boolean; patterns: readonly string[] } {
  const [first, ...rest] = args;
  if (first === undefined || !first.startsWith('--')) return { follow: false, patterns: args };
  if (first.toLowerCase() === followOption) return { follow: true, patterns: rest };
  throw new Error(`Invalid glob option ${first}, available option: '${followOption}'`);
}

interface Walk {
  readonly stateDir: string | undefined;
  /**
   * With `--follow-symbolic-links`, the real paths of the directories being walked, the workspace's
   * first: a link to one of them is a cycle, which @actions/glob skips. Undefined: links not walked.
   */
  readonly followChain: readonly string[] | undefined;
}

/**
 * Adds the files under `dir` to `out`, which every level shares: a subtree's list spread into its
 * parent's (`push(...list)`) passes each path as an argument, and past about 125,000 (a node_modules)
 * that overflowed the stack, failing hashFiles whatever its patterns.
 */
function listFiles(dir: string, walk: Walk, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '.git') continue;
    const full = join(dir, entry.name);
    if (full === walk.stateDir) stateWorkflows(full, out);
    else if (entry.isDirectory()) listDirectory(full, walk, out);
    else if (entry.isFile()) out.push(full);
    else if (entry.isSymbolicLink()) linkTarget(full, walk, out);
  }
}

function listDirectory(dir: string, walk: Walk, out: string[]): void {
  if (walk.followChain === undefined) listFiles(dir, walk, out);
  else {
    const real = realpathSync(dir);
    if (!walk.followChain.includes(real))
      listFiles(dir, { ...walk, followChain: [...walk.followChain, real] }, out);
  }
}

/**
 * A link to a file is the file, and so is a broken link unless links are followed (@actions/glob
 * lists it, by lstat, and hashing it fails: readMatch); one to a directory is nothing unless they are.
 */
function linkTarget(path: string, walk: Walk, out: string[]): void {
  const target = statSync(path, { throwIfNoEntry: false });
  if (target === undefined) {
    if (walk.followChain === undefined) out.push(path);
  } else if (target.isFile()) out.push(path);
  else if (target.isDirectory() && walk.followChain !== undefined) listDirectory(path, walk, out);
}

function stateWorkflows(stateDir: string, out: string[]): void {
  const workflows = join(stateDir, 'workflows');
  const walk: Walk = { stateDir: undefined, followChain: undefined };
  if (statSync(workflows, { throwIfNoEntry: false })?.isDirectory()) listFiles(workflows, walk, out);
}
