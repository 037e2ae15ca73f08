import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './exit-codes.js';

/**
 * A path given to a flag or an environment variable (`source`, named in the error), with a leading
 * `~` or `~/` put under the user's home directory. A shell expands it only at the start of a word it
 * parses itself: a systemd unit, a Docker ENV or a quoted `--work-dir '~/runner'` hands it over as it
 * is, and `--work-dir ~/runner` made a directory named `~` in the current one. `~user` forms are
 * refused rather than guessed at (a name, or another user's home?).
 */
export function expandHome(path: string, source: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  if (path.startsWith('~'))
    throw new UsageError(
      `${source}: only ~ and ~/… are expanded to the home directory, received ${JSON.stringify(path)}; ` +
        'give the full path (./~name for a name that starts with ~)',
    );
  return path;
}

/** The path given to `flag`, else to the environment variable `variable`, expanded (expandHome). */
export function flagOrVariablePath(
  flag: string,
  given: string | undefined,
  variable: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (given !== undefined) return expandHome(given, flag);
  const value = env[variable];
  return value === undefined ? undefined : expandHome(value, variable);
}
