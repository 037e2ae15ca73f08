import { accessSync, constants, lstatSync, rmdirSync, unlinkSync } from 'node:fs';
import { DirectoryRefusedError, makeDirectorySync } from '../platform/make-directory.js';
import { UsageError } from './exit-codes.js';

/**
 * A work dir that cannot be made (under a file, no permission), or that this user cannot write (the
 * lock, credentials and job directories go there), is a bad argument: one line, exit 2. Returns the
 * directories it made, outermost first.
 */
export function createWorkDir(workDir: string): string[] {
  let made: string[];
  try {
    made = makeDirectorySync(workDir, 0o700);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOTDIR' || code === 'EEXIST'
        ? 'a part of the path is a file'
        : error instanceof DirectoryRefusedError
          ? error.reason
          : whyUnusable(error);
    throw new UsageError(`--work-dir: cannot create ${workDir} (${why})`);
  }
  try {
    accessSync(workDir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new UsageError(`--work-dir: cannot use ${workDir} (${whyUnusable(error)})`);
  }
  return made;
}

/**
 * Takes back what a runner's start made (`made`, outermost first, as createWorkDir and claimJobsDir
 * tell it), innermost first. A directory is only removed empty: what anyone else put there since
 * stays, and so does the directory that holds it. Never throws.
 */
export function removeMade(made: readonly string[]): void {
  for (const path of [...made].reverse()) {
    try {
      if (lstatSync(path).isDirectory()) rmdirSync(path);
      else unlinkSync(path);
    } catch {
      // Gone already, or a directory someone else uses now: left as it is.
    }
  }
}

/** Why this user cannot make or write a directory, in words; else the error's code. */
function whyUnusable(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied: this user cannot write there';
  if (code === 'EROFS') return 'it is on a read-only file system';
  return code ?? String(error);
}
