import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { credentialsFileName, parseRunnerCredentials } from '../core/runner-credentials-file.js';

/** A runner's own files, left out when the workspace itself is its work dir. */
const runnerFiles = [credentialsFileName, 'runner.lock'];

/**
 * The folders of `paths` (relative to `root`) that are a Valkyrie runner's work dir: they hold its
 * credentials file. `''` is the workspace itself. A runner started with `--work-dir` inside a
 * workspace would otherwise have its credential, and the job directories with earlier bundles
 * unpacked, sent to the server and to every job of the run.
 */
export async function runnerWorkDirs(root: string, paths: readonly string[]): Promise<string[]> {
  const dirs: string[] = [];
  for (const path of paths) {
    if (posix.basename(path) !== credentialsFileName) continue;
    const text = await readFile(join(root, path), 'utf8').catch(() => '');
    if (parseRunnerCredentials(text) === undefined) continue;
    const dir = posix.dirname(path);
    dirs.push(dir === '.' ? '' : dir);
  }
  return dirs;
}

/** `paths` without those in `dirs` (runnerWorkDirs); of the workspace itself, only the runner's own files. */
export function outsideWorkDirs(paths: readonly string[], dirs: readonly string[]): string[] {
  if (dirs.length === 0) return [...paths];
  const prefixes = dirs.filter((dir) => dir !== '').map((dir) => `${dir}/`);
  const atTop = dirs.includes('');
  return paths.filter(
    (path) => !prefixes.some((prefix) => path.startsWith(prefix)) && !(atTop && runnerFiles.includes(path)),
  );
}
