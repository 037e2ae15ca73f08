/**
 * Whether what goes to stdout is coloured, and why:
 * - `none`: `--no-color` (a flag beats the environment), FORCE_COLOR=0 or false, or NO_COLOR set and
 *   not empty (no-color.org), or stdout not a terminal;
 * - `forced`: FORCE_COLOR set otherwise (empty, 1, 2, 3, true), read as Node and chalk read it, and
 *   over NO_COLOR as in Node: colour also off a terminal, for a CI log that renders ANSI;
 * - `terminal`: stdout is a terminal.
 */
export type ColorChoice = 'none' | 'forced' | 'terminal';

export function colorChoice(
  color: boolean | undefined,
  env: NodeJS.ProcessEnv = process.env,
  isTTY: boolean = process.stdout.isTTY === true,
): ColorChoice {
  if (color === false) return 'none';
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force === '0' || force.toLowerCase() === 'false' ? 'none' : 'forced';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 'none';
  return isTTY ? 'terminal' : 'none';
}
