import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../core/error-message.js';

/**
 * Removes `path` and everything under it, as `rm -rf` does, also where a job left directories
 * without write permission (`chmod a-w`, as Go's module cache leaves its own): a user other than root
 * cannot remove the entries of such a directory. A removal refused for permission makes every
 * directory of this user's under `path` writable again and is tried once more. Never throws: what
 * still cannot be removed (another user's files, a mount point) is told to `warn` in one line that
 * names it and why, and is left in place. Resolves true when `path` is gone (or never was).
 */
export async function removeTree(path: string, warn: (line: string) => void): Promise<boolean> {
  try {
    await rm(path, { recursive: true, force: true });
    return true;
  } catch (error) {
    if (!refusedForPermission(error)) return leftInPlace(path, error, warn);
  }
  await makeDirectoriesWritable(path);
  try {
    await rm(path, { recursive: true, force: true });
    return true;
  } catch (error) {
    return leftInPlace(path, error, warn);
  }
}

function refusedForPermission(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
}

/** The error's message names the entry that could not be removed, which may be deep under `path`. */
function leftInPlace(path: string, error: unknown, warn: (line: string) => void): false {
  warn(`could not remove ${path}, left in place: ${messageOf(error)}`);
  return false;
}

/**
 * chmod 0700 on `root` (unless it is a symlink, which rm removes as it is) and each directory under
 * it, not following symlinks. The exact mode, not the old one plus u+rwx, spares an lstat of every
 * directory: all of them are about to be removed. Another user's directory refuses the chmod and
 * is walked still, for ours under it. Errors are ignored: the retry says what stays unremovable.
 */
async function makeDirectoriesWritable(root: string): Promise<void> {
  const stat = await lstat(root).catch(() => undefined);
  if (stat?.isDirectory() !== true) return;
  const pending = [root];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    await chmod(dir, 0o700).catch(() => undefined);
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) pending.push(join(dir, entry.name));
  }
}
