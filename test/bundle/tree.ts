import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

/** A workspace as tests describe it: files with content and mode, and symbolic links. */
export type TreeEntry =
  | { readonly kind: 'file'; readonly path: string; readonly content: string; readonly mode: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

export function writeTree(root: string, entries: readonly TreeEntry[]): void {
  for (const entry of entries) {
    const path = join(root, entry.path);
    mkdirSync(dirname(path), { recursive: true });
    if (entry.kind === 'file') {
      writeFileSync(path, entry.content);
      chmodSync(path, entry.mode);
    } else {
      symlinkSync(entry.target, path);
    }
  }
}

/** What is on disk under `root`, in the same shape, sorted by path (directories are implied). */
export function readTree(root: string, prefix = ''): TreeEntry[] {
  const out: TreeEntry[] = [];
  for (const name of readdirSync(join(root, prefix)).sort()) {
    const path = prefix === '' ? name : `${prefix}/${name}`;
    const stat = lstatSync(join(root, path));
    if (stat.isDirectory()) out.push(...readTree(root, path));
    else if (stat.isSymbolicLink())
      out.push({ kind: 'symlink', path, target: readlinkSync(join(root, path)) });
    else
      out.push({
        kind: 'file',
        path,
        content: readFileSync(join(root, path), 'utf8'),
        mode: stat.mode & 0o7777,
      });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
