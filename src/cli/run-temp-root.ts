import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './exit-codes.js';

/**
 * A temporary directory of this process's own (`$TMPDIR/valkyrie-run-XXXXXX`, mode 0700), for the
 * in-process runner's slot directories: RUNNER_TEMP, the tool cache, and the step scripts and command
 * files, which hold the job's secrets. It is outside the workspace, as a GitHub runner's are: steps run
 * in the user's working tree, where a `git add -A` would commit them, a `git clean -fdx` delete them,
 * and hashFiles() count them. Several `valkyrie run`, `resume` and `rerun` processes may run at once
 * (concurrency groups let their jobs overlap): each has its own, so slot directories of one name are
 * not emptied under each other when a job ends. A $TMPDIR where it cannot be made is a UsageError.
 */
export function processTempRoot(): { readonly dir: string; remove(): void } {
  let dir: string;
  try {
    // mkdtemp makes it 0700 whatever the umask.
    dir = mkdtempSync(join(tmpdir(), 'valkyrie-run-'));
  } catch (error) {
    throw tempDirError(error);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Refuses a $TMPDIR that is missing, not a directory, or not writable, before a command opens its
 * store: processTempRoot would fail only once the run is recorded.
 */
export function checkTempDir(): void {
  try {
    if (!statSync(tmpdir()).isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' });
    accessSync(tmpdir(), constants.W_OK | constants.X_OK);
  } catch (error) {
    throw tempDirError(error);
  }
}

function tempDirError(error: unknown): UsageError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  const source = process.env.TMPDIR ? 'TMPDIR' : 'the temporary directory';
  return new UsageError(
    `${source}: cannot make this process's directory for step scripts in ${tmpdir()} (${code}); set TMPDIR to a writable directory`,
  );
}
