import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { parseGlobPatterns } from './glob-patterns.js';

/**
 * GitHub's `hashFiles(patterns…)`: the SHA-256 of the SHA-256s of every file under the workspace
 * matching the patterns (glob-patterns.ts: @actions/glob's rules, `!` excludes, a directory stands
 * for the files under it), in path order. Returns '' when nothing matches. As on GitHub a symbolic
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
    .sort();
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
