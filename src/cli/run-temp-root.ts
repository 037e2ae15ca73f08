import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  type Dirent,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTree } from '../runner/tree-removal.js';
import { UsageError } from './exit-codes.js';

/**
 * A temporary directory of this process's own (`$TMPDIR/valkyrie-run-<ns>-<pid>-XXXXXX`, mode 0700),
 * for the in-process runner's slot directories: RUNNER_TEMP, the tool cache, and the step scripts and
 * command files, which hold the job's secrets. It is outside the workspace, as a GitHub runner's are:
 * steps run in the user's working tree, where a `git add -A` would commit them, a `git clean -fdx`
 * delete them, and hashFiles() count them. Several `valkyrie run`, `resume` and `rerun` processes may
 * run at once (concurrency groups let their jobs overlap): each has its own, so slot directories of
 * one name are not emptied under each other when a job ends. A $TMPDIR where it cannot be made is a
 * UsageError. The directories of processes that were killed before they could remove theirs are
 * removed first (removeAbandonedTempRoots). Neither removal throws: what cannot be removed is told
 * to `warn`. `<ns>` says which boot and pid namespace `<pid>` is a pid of (pidNamespaceToken); where
 * that cannot be told the name is `valkyrie-run-XXXXXX`, which no process removes but its own.
 */
export async function processTempRoot(
  warn: (line: string) => void,
): Promise<{ readonly dir: string; remove(): Promise<void> }> {
  const token = pidNamespaceToken();
  const tmp = tmpdir();
  if (token !== undefined) await removeAbandonedTempRoots(tmp, token, warn);
  let dir: string;
  try {
    // mkdtemp makes it 0700 whatever the umask.
    const prefix = token === undefined ? 'valkyrie-run-' : `valkyrie-run-${token}-${process.pid}-`;
    dir = mkdtempSync(join(tmp, prefix));
  } catch (error) {
    throw tempDirError(error);
  }
  return {
    dir,
    remove: async () => {
      await removeTree(dir, warn);
    },
  };
}

/**
 * Eight hex digits of a hash of this boot's id and this process's pid namespace: a pid means one
 * process only among those of one token. $TMPDIR may be shared across namespaces (a container run
 * with -v /tmp:/tmp, pods sharing an emptyDir, `unshare --pid`) or hosts (an NFS $TMPDIR), where
 * the same pid is another process or none. The boot id tells hosts apart (the first pid namespace's
 * inode is the same constant on every host), the inode namespaces on one boot. Undefined where
 * /proc does not say (not Linux).
 */
export function pidNamespaceToken(): string | undefined {
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const namespace = statSync('/proc/self/ns/pid').ino;
    if (bootId === '' || namespace === 0) return undefined;
    return createHash('sha256').update(`${bootId}\n${namespace}`).digest('hex').slice(0, 8);
  } catch {
    return undefined;
  }
}

/** What processTempRoot names its directory: the namespace token, the pid, and mkdtemp's six characters. */
const tempRootName = /^valkyrie-run-([0-9a-f]{8})-([1-9][0-9]{0,9})-[A-Za-z0-9]{6}$/;

/**
 * Removes the directories in `dir` that processTempRoot made for processes that are gone (a
 * `valkyrie run` that was SIGKILLed, or lost its machine, never removed its own), with the step
 * scripts and secrets in them. Only one whose owner is certainly gone: named as processTempRoot
 * names them with `token`, this process's (another namespace's or host's pid cannot be checked
 * here; an older name has no token, and is left), a directory and not a symlink, owned by this user,
 * and its pid not alive — a pid in use by any process, even another user's or a reuse of it, keeps
 * it. Nothing is removed from a `dir` that another user owns, or that others may write without the
 * sticky bit: they could put a symlink in the place of a directory between its lstat and its removal.
 * One readdir of $TMPDIR, and an lstat only of the names that match. Best effort: what cannot be
 * removed is told to `warn` (removeTree) and left for the next start. Not on Windows, whose files
 * have no owner uid to compare.
 */
export async function removeAbandonedTempRoots(
  dir: string,
  token: string,
  warn: (line: string) => void,
): Promise<void> {
  const uid = process.getuid?.();
  if (uid === undefined || !safeToSweep(dir, uid)) return;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    // A Dirent is the entry itself: a symlink is not a directory here, whatever it points to.
    const match = entry.isDirectory() ? tempRootName.exec(entry.name) : null;
    if (match?.[1] !== token || isAlive(Number(match[2]))) continue;
    const path = join(dir, entry.name);
    let stat: ReturnType<typeof lstatSync>;
    try {
      stat = lstatSync(path);
    } catch {
      // Gone already: another process's sweep.
      continue;
    }
    if (stat.isDirectory() && stat.uid === uid) await removeTree(path, warn);
  }
}

/** Only this user or root may rename entries of `dir`, other users' own aside (the sticky bit). */
function safeToSweep(dir: string, uid: number): boolean {
  try {
    const stat = statSync(dir);
    const othersWrite = (stat.mode & 0o022) !== 0;
    const sticky = (stat.mode & 0o1000) !== 0;
    return (stat.uid === uid || stat.uid === 0) && (!othersWrite || sticky);
  } catch {
    return false;
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
