import { accessSync, constants, mkdirSync } from 'node:fs';
import { UsageError } from './exit-codes.js';

/**
 * A work dir that cannot be made (under a file, no permission), or that this user cannot write (the
 * lock, credentials and job directories go there), is a bad argument: one line, exit 2.
 */
export function createWorkDir(workDir: string): void {
  try {
    mkdirSync(workDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOTDIR' || code === 'EEXIST' ? 'a part of the path is a file' : (code ?? String(error));
    throw new UsageError(`--work-dir: cannot create ${workDir} (${why})`);
  }
  try {
    accessSync(workDir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EACCES' || code === 'EPERM'
        ? 'permission denied: this user cannot write it'
        : code === 'EROFS'
          ? 'it is on a read-only file system'
          : (code ?? String(error));
    throw new UsageError(`--work-dir: cannot use ${workDir} (${why})`);
  }
}
