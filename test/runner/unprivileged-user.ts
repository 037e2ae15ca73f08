import { spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Who a test of permission bits runs its child processes as. Root ignores the bits, so as root they
 * run as `nobody`; any other user is stopped by them already and runs them as itself.
 */
export interface UnprivilegedUser {
  /** spawn() options that make a child this user (none when it is the test's own). */
  readonly spawnOptions: { readonly uid?: number; readonly gid?: number };
  /** Whether the test runs as root, and so can make files this user cannot remove. */
  readonly asRoot: boolean;
  /** Why the tests cannot run here, for the skip's name; undefined when they can. */
  readonly unusable: string | undefined;
}

const nobody = 65534;

/** `probe` is a command this user must be able to run (e.g. Node on a script of the checkout). */
export function unprivilegedUser(probe: readonly string[]): UnprivilegedUser {
  const uid = process.getuid?.();
  if (uid === undefined) return { spawnOptions: {}, asRoot: false, unusable: 'no POSIX users here' };
  if (uid !== 0) return { spawnOptions: {}, asRoot: false, unusable: undefined };
  const spawnOptions = { uid: nobody, gid: nobody };
  const [command = '', ...args] = probe;
  const ran = spawnSync(command, args, { ...spawnOptions, stdio: 'ignore' });
  const unusable =
    ran.status === 0
      ? undefined
      : `nobody (uid ${nobody}) cannot run ${command} from this checkout (${ran.error?.message ?? `exit ${ran.status}`})`;
  return { spawnOptions, asRoot: true, unusable };
}

/** A new directory of this user's (as root: chowned to it), for what its children make. */
export function scratchDirFor(user: UnprivilegedUser, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const { uid, gid } = user.spawnOptions;
  if (uid !== undefined && gid !== undefined) chownSync(dir, uid, gid);
  return dir;
}
