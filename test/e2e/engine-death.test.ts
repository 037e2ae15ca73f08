import { mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findInterpreter } from '../../src/executors/shell/spawner/script-spawner.js';
import { collect, Workspace } from './cli.js';
import { isAlive, readPid, waitFor } from './process-state.js';

/**
 * A SIGKILLed `valkyrie run` (or runner) cannot stop its steps, but the spawner that started them
 * sees the engine go (its stdin or channel closes) and stops their process groups: otherwise the
 * step would run on beside the copy that `valkyrie resume`, or another runner, starts again.
 */
const spawners = [
  { launcher: 'spawner', needs: undefined },
  { launcher: 'perl-spawner', needs: 'perl' },
  { launcher: 'python-spawner', needs: 'python3' },
] as const;

/** One job whose step starts a background `sleep` in its group, writes both pids, and waits. */
function longStep(name: string, stepPid: string, backgroundPid: string): string {
  return `name: ${name}
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - run: |
          sleep 300 &
          echo $! > ${backgroundPid}
          echo $$ > ${stepPid}
          wait
`;
}

describe('a SIGKILLed engine takes its running steps with it', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  for (const { launcher, needs } of spawners) {
    const missing = needs !== undefined && findInterpreter(needs) === undefined;
    it.skipIf(missing)(`started by the ${launcher}: the step and what it started in its group`, async () => {
      const stepPid = join(ws.dir, `${launcher}.step.pid`);
      const backgroundPid = join(ws.dir, `${launcher}.background.pid`);
      const file = ws.write(`${launcher}.yml`, longStep(launcher, stepPid, backgroundPid));
      const child = ws.start(['run', file], { VALKYRIE_LAUNCHER: launcher });
      const exited = collect(child);
      await waitFor(() => readPid(stepPid) !== undefined, 20_000, 'the step to start');
      const step = readPid(stepPid) ?? 0;
      const background = readPid(backgroundPid) ?? 0;
      expect(isAlive(step) && isAlive(background)).toBe(true);
      try {
        child.kill('SIGKILL');
        expect((await exited).signal).toBe('SIGKILL');
        await waitFor(() => !isAlive(step) && !isAlive(background), 5_000, 'the step and its child to end');
      } finally {
        // Only when the assertion failed: nothing is left to stop otherwise.
        for (const pid of [-step, background]) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
    });
  }
});

/** The pids of `parent`'s children, from /proc. */
function childrenOf(parent: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** The program `pid` runs: node, perl, python3.x… */
function programOf(pid: number): string {
  try {
    return basename(readlinkSync(`/proc/${pid}/exe`));
  } catch {
    return '';
  }
}

/**
 * A directory of links to the few programs a step below needs, plus `extra`: as PATH, it hides the
 * interpreters `auto` would prefer over the one under test.
 */
function pathWith(dir: string, extra: readonly string[]): string {
  mkdirSync(dir, { recursive: true });
  for (const name of ['bash', 'sh', 'sleep', ...extra]) {
    const target = findInterpreter(name);
    if (target !== undefined) symlinkSync(target, join(dir, name));
  }
  return dir;
}

/**
 * Under `auto` the first steps start in the engine itself, before its spawner is ready; once it
 * is, it is handed their process groups, so a SIGKILLed engine takes them too. In the commonest
 * workflow (checkout, then one long step) that step is the real work, and it used to run on beside
 * the copy that `valkyrie resume` started.
 */
describe('a SIGKILLed engine under `auto` takes the steps it started before its spawner was ready', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  const kinds = [
    { kind: 'python3', program: /^python3/, path: () => process.env.PATH ?? '', needs: 'python3' },
    {
      kind: 'perl',
      program: /^perl/,
      path: () => pathWith(join(ws.dir, 'perl-bin'), ['perl']),
      needs: 'perl',
    },
    { kind: 'node', program: /^node/, path: () => pathWith(join(ws.dir, 'node-bin'), []), needs: undefined },
  ] as const;

  for (const { kind, program, path, needs } of kinds) {
    const missing = needs !== undefined && findInterpreter(needs) === undefined;
    it.skipIf(missing)(`with the ${kind} spawner`, async () => {
      const stepPid = join(ws.dir, `${kind}.step.pid`);
      const backgroundPid = join(ws.dir, `${kind}.background.pid`);
      const file = ws.write(`${kind}.yml`, longStep(`auto-${kind}`, stepPid, backgroundPid));
      const child = ws.start(['run', file], { VALKYRIE_LAUNCHER: 'auto', PATH: path() });
      const exited = collect(child);
      const engine = child.pid ?? 0;
      await waitFor(() => readPid(stepPid) !== undefined, 20_000, 'the step to start');
      const step = readPid(stepPid) ?? 0;
      const background = readPid(backgroundPid) ?? 0;
      try {
        // Started by the engine itself, and beside it the spawner `auto` chose.
        expect(childrenOf(engine)).toContain(step);
        await waitFor(
          () => childrenOf(engine).some((pid) => program.test(programOf(pid)) && pid !== step),
          5_000,
          `the ${kind} spawner to start`,
        );
        // Ready well within this.
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        expect(isAlive(step) && isAlive(background)).toBe(true);
        child.kill('SIGKILL');
        expect((await exited).signal).toBe('SIGKILL');
        await waitFor(() => !isAlive(step) && !isAlive(background), 3_000, 'the step and its child to end');
      } finally {
        for (const pid of [-step, background]) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
    });
  }
});
