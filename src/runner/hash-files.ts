import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/**
 * GitHub's `hashFiles(patterns…)`: the SHA-256 of the SHA-256s of every regular file under the
 * workspace matching the glob patterns (`*`, `**`, `?`; a leading `!` excludes), in path order.
 * Returns '' when nothing matches.
 */
export function hashFiles(workspace: string, patterns: readonly string[]): string {
  const includes = patterns.filter((p) => !p.startsWith('!')).map(globToRegExp);
  const excludes = patterns.filter((p) => p.startsWith('!')).map((p) => globToRegExp(p.slice(1)));
  const matched = listFiles(workspace)
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

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === '.git') continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else if (entry.isFile()) out.push(full);
  }
  return out;
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
