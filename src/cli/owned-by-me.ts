import { statSync } from 'node:fs';

/**
 * Whether `path` (after symlinks) belongs to this process's user, and, with `othersMayWrite: false`,
 * is not writable by others either. False when it cannot be read; true where there are no uids
 * (Windows), which leaves the caller's other bounds as the only ones.
 */
export function ownedByMe(
  path: string,
  { othersMayWrite = true }: { readonly othersMayWrite?: boolean } = {},
): boolean {
  const uid = process.getuid?.();
  if (uid === undefined) return true;
  try {
    const stat = statSync(path);
    return stat.uid === uid && (othersMayWrite || (stat.mode & 0o002) === 0);
  } catch {
    return false;
  }
}
