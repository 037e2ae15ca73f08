import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, statuses, Workspace, waitForJobStatus } from './cli.js';
import { isAlive, killGroup, readPid, waitFor } from './process-state.js';

/**
 * Two OSes by two versions, run one leg at a time; the node 22 leg sleeps until it has started twice,
 * so a run killed during it has it to run again on resume.
 */
const crossOs = (legs: string, pid: string) => `name: legs
on: push
jobs:
  test:
    strategy:
      max-parallel: 1
      matrix:
        os: [ubuntu-latest, windows-latest]
        node: [20, 22]
    runs-on: \${{ matrix.os }}
    steps:
      - run: |
          echo "\${{ matrix.os }} \${{ matrix.node }}" >> ${legs}
          [ "\${{ matrix.node }}" = 20 ] && exit 0
          echo $$ > ${pid}
          [ "$(grep -c ' 22$' ${legs})" -ge 2 ] || sleep 300
`;

describe('valkyrie resume of a run narrowed with --matrix', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('after a SIGKILL plans the kept legs only: the interrupted one runs again, the others never', async () => {
    const legs = join(ws.dir, 'legs');
    const pid = join(ws.dir, 'step.pid');
    writeFileSync(legs, '');
    const file = ws.write('legs.yml', crossOs(legs, pid));
    const child = ws.start(['run', file, '--json', '--matrix', 'os=ubuntu-latest']);
    const exited = collect(child);
    await waitFor(() => readPid(pid) !== undefined, 20_000, 'the node 22 leg to start');
    const step = readPid(pid) ?? 0;
    // Kill once the leg's start is durable, as resume.test.ts does.
    await waitForJobStatus(ws, '1', 'test (ubuntu-latest, 22)', 'running');
    child.kill('SIGKILL');
    killGroup(step);
    expect((await exited).signal).toBe('SIGKILL');
    await waitFor(() => !isAlive(step), 5_000, "the leg's step to die");

    const resumed = await ws.run(['resume', '1', '--json']);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(readFileSync(legs, 'utf8').split('\n').filter(Boolean)).toEqual([
      'ubuntu-latest 20',
      'ubuntu-latest 22',
      'ubuntu-latest 22',
    ]);
    const shown = JSON.parse((await ws.run(['show', '1', '--json'])).stdout) as {
      status: string;
      matrixFilter?: Record<string, string[]>;
      jobs: { name: string; status: string }[];
    };
    expect(shown.status).toBe('succeeded');
    expect(shown.matrixFilter).toEqual({ os: ['ubuntu-latest'] });
    expect(statuses(resumed.stdout)).toEqual({
      'test (ubuntu-latest, 20)': 'succeeded',
      'test (ubuntu-latest, 22)': 'succeeded',
    });
    expect(shown.jobs.map((job) => job.name).sort()).toEqual([
      'test (ubuntu-latest, 20)',
      'test (ubuntu-latest, 22)',
    ]);
  });
});
