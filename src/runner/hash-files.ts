import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

/**
 * GitHub's `hashFiles(patterns…)`: the SHA-256 of the SHA-256s of every regular file under the
 * workspace matching the glob patterns (`*`, `**`, `?`; a leading `!` excludes), in path order.
 * Returns '' when nothing matches. `stateDir`, local mode's state directory, is left out when it is in
 * the workspace — its live database changes under every step — except its `workflows/`, which the
 * workspace's `.github/` on GitHub is the analogue of.
 */
export function hashFiles(workspace: string, patterns: readonly string[], stateDir?: string): string {
  const includes = patterns.filter((p) => !p.startsWith('!')).map(globToRegExp);
  const excludes = patterns.filter((p) => p.startsWith('!')).map((p) => globToRegExp(p.slice(1)));
  const matched = listFiles(workspace, stateDir === undefined ? undefined : resolve(stateDir))
    .map((file) => relative(workspace, file).split(sep).join('/'))
    .filter((file) => includes.some((re) => re.test(file)) && !excludes.some((re) => re.test(file)))
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
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

function stateWorkflows(stateDir: string): string[] {
  const workflows = join(stateDir, 'workflows');
  return statSync(workflows, { throwIfNoEntry: false })?.isDirectory() ? listFiles(workflows, undefined) : [];
}

export function globToRegExp(pattern: string): RegExp {
  const normalized = pattern.replace(/^\.\//, '');
  let source = '';
  for (let i = 0; i < normalized.length; i++) {
    const char = normalized[i] ?? '';
    if (char === '*' && normalized[i + 1] === '*') {
      const slash = normalized[i + 2] === '/';
      source += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (char === '*') {
      source += '[^/]*';
    } else if (char === '?') {
      source += '[^/]';
    } else {
      source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}
