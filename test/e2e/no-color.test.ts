import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/shell-word.js';
import { valkyrieBin, Workspace } from './cli.js';

/**
 * `--no-color` on every command that colours what it prints on a terminal (run, submit, resume,
 * rerun had it; runs, show and logs --follow refused it as an unknown option), and NO_COLOR as
 * before. On a real terminal: `script` gives the command a pseudo-terminal for its stdout.
 */
const ws = new Workspace();
afterAll(() => ws.dispose());

/** What `valkyrie ARGS` prints on a terminal, with `env` (NO_COLOR unset unless given). */
function onTerminal(
  args: readonly string[],
  env: Record<string, string> = {},
): { code: number | null; out: string } {
  const command = [process.execPath, valkyrieBin, ...args].map(shellWord).join(' ');
  const { NO_COLOR: _unset, ...inherited } = process.env;
  const result = spawnSync('script', ['-qec', command, '/dev/null'], {
    cwd: ws.dir,
    env: { ...inherited, TERM: 'xterm-256color', ...env },
    encoding: 'utf8',
  });
  return { code: result.status, out: result.stdout };
}

/** An SGR sequence (ESC [ … m), as the colours are written. */
const colour = new RegExp(`${String.fromCharCode(27)}\\[\\d+(;\\d+)*m`);

beforeAll(async () => {
  ws.write('ci.yml', 'name: ci\njobs:\n  build:\n    runs-on: local\n    steps: [{ run: echo built }]\n');
  const run = await ws.run(['run', 'ci.yml']);
  expect(run.code).toBe(0);
});

describe.each([
  ['runs', ['runs']],
  ['show', ['show', '1']],
  ['logs --follow', ['logs', '1', '--follow']],
])('valkyrie %s on a terminal', (_name, args) => {
  it('colours its output, and not with --no-color or NO_COLOR', () => {
    const coloured = onTerminal(args);
    expect(coloured.code).toBe(0);
    expect(coloured.out).toMatch(colour);
    const plain = onTerminal([...args, '--no-color']);
    expect(plain.out).not.toMatch(/unknown option/);
    expect(plain.code).toBe(0);
    expect(plain.out).not.toMatch(colour);
    expect(plain.out).toContain('succeeded');
    const byEnv = onTerminal(args, { NO_COLOR: '1' });
    expect(byEnv.code).toBe(0);
    expect(byEnv.out).not.toMatch(colour);
  });
});
