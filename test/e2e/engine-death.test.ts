import { join } from 'node:path';
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

describe('a SIGKILLed engine takes its running steps with it', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  for (const { launcher, needs } of spawners) {
    const missing = needs !== undefined && findInterpreter(needs) === undefined;
    it.skipIf(missing)(`started by the ${launcher}: the step and what it started in its group`, async () => {
      const stepPid = join(ws.dir, `${launcher}.step.pid`);
      const backgroundPid = join(ws.dir, `${launcher}.background.pid`);
      const file = ws.write(
        `${launcher}.yml`,
        `name: ${launcher}
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - run: |
          sleep 300 &
          echo $! > ${backgroundPid}
          echo $$ > ${stepPid}
          wait
`,
      );
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
