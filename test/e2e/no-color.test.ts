import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/shell-word.js';
import { valkyrieBin, Workspace } from './cli.js';
import { killAll, type StartedProcess, type StartedServer, startServer } from './fleet-processes.js';

/**
 * `--no-color` on every command that colours what it prints on a terminal (run, submit, resume,
 * rerun had it; runs, show and logs --follow refused it as an unknown option), and NO_COLOR as
 * before. On a real terminal: `script` gives the command a pseudo-terminal for its stdout.
 */
const ws = new Workspace();
const processes: StartedProcess[] = [];
afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

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

const admin = 'vkt-e2e-no-color-admin-0123456789';
/** A server (its own process: script(1) is waited for synchronously) whose run 1 was cancelled. */
let server: StartedServer | undefined;

beforeAll(async () => {
  ws.write('ci.yml', 'name: ci\njobs:\n  build:\n    runs-on: local\n    steps: [{ run: echo built }]\n');
  const run = await ws.run(['run', 'ci.yml']);
  expect(run.code).toBe(0);
  server = await startServer(ws, [], { VALKYRIE_ADMIN_TOKEN: admin });
  processes.push(server);
  const env = { VALKYRIE_SERVER: server.url, VALKYRIE_TOKEN: admin };
  // No runner has the label: the run stays queued until it is cancelled.
  const submitted = await ws.run(['submit', 'ci.yml', '--no-bundle'], env);
  expect(submitted.code, submitted.stderr).toBe(0);
  const cancelled = await ws.run(['cancel', '1'], env);
  expect(cancelled.code, cancelled.stderr).toBe(0);
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

// The same commands of a server's run: server-history.ts draws them, apart from the local ones.
describe.each([
  ['runs --server', ['runs']],
  ['show --server', ['show', '1']],
  ['logs --follow --server', ['logs', '1', '--follow']],
])('valkyrie %s on a terminal', (_name, args) => {
  it('colours its output, and not with --no-color or NO_COLOR', () => {
    const env = { VALKYRIE_SERVER: server?.url ?? '', VALKYRIE_TOKEN: admin };
    const coloured = onTerminal(args, env);
    expect(coloured.out).toMatch(colour);
    expect(coloured.out).toContain('cancelled');
    const plain = onTerminal([...args, '--no-color'], env);
    expect(plain.out).not.toMatch(colour);
    expect(plain.out).toContain('cancelled');
    expect(plain.code).toBe(coloured.code);
    const byEnv = onTerminal(args, { ...env, NO_COLOR: '1' });
    expect(byEnv.out).not.toMatch(colour);
    expect(byEnv.code).toBe(coloured.code);
  });
});

describe('FORCE_COLOR off a terminal (a CI log that renders ANSI)', () => {
  it.each([
    ['run', ['run', 'ci.yml']],
    ['runs', ['runs']],
    ['show', ['show', '1']],
  ])(
    'colours what valkyrie %s pipes with FORCE_COLOR=1, over NO_COLOR, and not with 0 or --no-color',
    async (_name, args) => {
      // ws.run pipes stdout and sets NO_COLOR=1.
      const forced = await ws.run(args, { FORCE_COLOR: '1' });
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stdout).toMatch(colour);
      const off = await ws.run(args, { FORCE_COLOR: '0' });
      expect(off.code, off.stderr).toBe(0);
      expect(off.stdout).not.toMatch(colour);
      const flag = await ws.run([...args, '--no-color'], { FORCE_COLOR: '1' });
      expect(flag.code, flag.stderr).toBe(0);
      expect(flag.stdout).not.toMatch(colour);
    },
  );
});
