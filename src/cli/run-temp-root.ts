import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A temporary directory of this process's own (`$TMPDIR/valkyrie-run-XXXXXX`, mode 0700), for the
 * in-process runner's slot directories: RUNNER_TEMP, the tool cache, and the step scripts and command
 * files, which hold the job's secrets. It is outside the workspace, as a GitHub runner's are: steps run
 * in the user's working tree, where a `git add -A` would commit them, a `git clean -fdx` delete them,
 * and hashFiles() count them. Several `valkyrie run`, `resume` and `rerun` processes may run at once
 * (concurrency groups let their jobs overlap): each has its own, so slot directories of one name are
 * not emptied under each other when a job ends.
 */
export function processTempRoot(): { readonly dir: string; remove(): void } {
  // mkdtemp makes it 0700 whatever the umask.
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-run-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
