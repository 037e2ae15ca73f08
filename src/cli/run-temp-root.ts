import {
  accessSync,
  constants,
  type Dirent,
  lstatSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './exit-codes.js';

/**
 * A temporary directory of this process's own (`$TMPDIR/valkyrie-run-<pid>-XXXXXX`, mode 0700), for the
 * in-process runner's slot directories: RUNNER_TEMP, the tool cache, and the step scripts and command
 * files, which hold the job's secrets. It is outside the workspace, as a GitHub runner's are: steps run
 * in the user's working tree, where a `git add -A` would commit them, a `git clean -fdx` delete them,
 * and hashFiles() count them. Several `valkyrie run`, `resume` and `rerun` processes may run at once
 * (concurrency groups let their jobs overlap): each has its own, so slot directories of one name are
 * not emptied under each other when a job ends. A $TMPDIR where it cannot be made is a UsageError.
 * The directories of processes that were killed before they could remove theirs are removed first
 * (removeAbandonedTempRoots): the pid in the name tells whose a directory is.
 */
export function processTempRoot(): { readonly dir: string; remove(): void } {
  removeAbandonedTempRoots(tmpdir());
  let dir: string;
  try {
    // mkdtemp makes it 0700 whatever the umask.
    dir = mkdtempSync(join(tmpdir(), `valkyrie-run-${process.pid}-`));
  } catch (error) {
    throw tempDirError(error);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** What processTempRoot names its directory: the pid of the process it belongs to, and mkdtemp's six characters. */
const tempRootName = /^valkyrie-run-([1-9][0-9]{0,9})-[A-Za-z0-9]{6}$/;

/**
 * Removes the directories in `dir` that processTempRoot made for processes that are gone (a
 * `valkyrie run` that was SIGKILLed, or lost its machine, never removed its own), with the step
 * scripts and secrets in them. Only one whose owner is certainly gone: named as processTempRoot
 * names them (an older name has no pid, and is left), a directory and not a symlink, owned by this
 * user, and its pid not alive — a pid in use by any process, even another user's or a reuse of it,
 * keeps it. One readdir of $TMPDIR, and an lstat only of the names that match. Best effort: a
 * directory that cannot be removed is left for the next start. Not on Windows, whose files have no
 * owner uid to compare.
 */
export function removeAbandonedTempRoots(dir: string): void {
  const uid = process.getuid?.();
  if (uid === undefined) return;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    // A Dirent is the entry itself: a symlink is not a directory here, whatever it points to.
    const pid = entry.isDirectory() ? tempRootName.exec(entry.name)?.[1] : undefined;
    if (pid === undefined || isAlive(Number(pid))) continue;
    const path = join(dir, entry.name);
    try {
      const stat = lstatSync(path);
      if (stat.isDirectory() && stat.uid === uid) rmSync(path, { recursive: true, force: true });
    } catch {
      // Gone already (another process's sweep), or not ours to remove: the next start tries again.
    }
  }
}

/** Signal 0 checks without signalling: EPERM is a live process of another user's. */
function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
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
