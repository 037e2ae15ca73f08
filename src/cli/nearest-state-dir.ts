import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { ownedByMe } from './owned-by-me.js';

/**
 * The nearest ancestor of `cwd` (not `cwd` itself) whose `.valkyrie/` holds a database this user can
 * trust, as git finds its repository from a subdirectory — with git's guard against CVE-2022-24765:
 * another user's `/tmp/.valkyrie/valkyrie.db` would otherwise hand `valkyrie resume` in `/tmp/x` a
 * workflow of theirs to run. The search stops at $HOME when `cwd` is in it, and at the first directory
 * this user does not own; a `.valkyrie/` or database found there that another user owns, or that others
 * may write, is not used (one warning on stderr) and the search ends. Where there are no uids (Windows),
 * only the $HOME bound applies.
 */
export function nearestStateDir(cwd: string): string | undefined {
  const home = resolve(homedir());
  const inHome = isWithin(resolve(cwd), home);
  for (let dir = resolve(cwd); ; ) {
    const parent = dirname(dir);
    if ((inHome && dir === home) || parent === dir) return undefined;
    dir = parent;
    if (!ownedByMe(dir)) return undefined;
    const candidate = join(dir, '.valkyrie');
    const db = join(candidate, 'valkyrie.db');
    if (!existsSync(db)) continue;
    if (ownedByMe(candidate, { othersMayWrite: false }) && ownedByMe(db, { othersMayWrite: false })) {
      return candidate;
    }
    process.stderr.write(
      `valkyrie: warning: not using ${candidate}: it or its database belongs to another user or is writable by others\n`,
    );
    return undefined;
  }
}

function isWithin(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith('/'));
}
