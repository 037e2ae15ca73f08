import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A temporary directory of this process's own under the state directory (`tmp/run-XXXXXX`), for the
 * in-process runner's slot directories. Several `valkyrie run`, `resume` and `rerun` processes may
 * share a state directory at once (concurrency groups let their jobs overlap), and slot directories of
 * one name would be emptied under each other when a job ends.
 */
export function processTempRoot(stateDir: string): { readonly dir: string; remove(): void } {
  mkdirSync(join(stateDir, 'tmp'), { recursive: true });
  const dir = mkdtempSync(join(stateDir, 'tmp', 'run-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
