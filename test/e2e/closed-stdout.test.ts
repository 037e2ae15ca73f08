import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/shell-word.js';
import { valkyrieBin, Workspace } from './cli.js';

const exec = promisify(execFile);

/**
 * `valkyrie run … | head`: the reader closes the pipe after a few lines. The run is cancelled as by a
 * first Ctrl-C — its steps stopped, its if: always() job run, the run recorded cancelled with the
 * reason — and the command exits 141, as make or act end at that SIGPIPE (before: the run went on to
 * its end, the shell waiting on the pipeline in silence; before that, it was left interrupted, its
 * steps killed, with exit 0). A command that only shows something: closed-output.test.ts.
 */
describe('a reader that closes stdout early', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  const shell = async (pipeline: string) =>
    (await exec('bash', ['-c', pipeline], { cwd: ws.dir, env: { ...process.env, NO_COLOR: '1' } })).stdout;

  it('cancels the run of valkyrie run cleanly and exits 141', async () => {
    ws.write(
      'many.yml',
      `name: many
jobs:
  m:
    runs-on: ubuntu-latest
    strategy: { matrix: { i: [1, 2, 3] } }
    steps:
      - run: for n in $(seq 200); do echo line $n of \${{ matrix.i }}; done
      - run: sleep 30; echo done \${{ matrix.i }}
  cleanup:
    needs: m
    if: always()
    runs-on: ubuntu-latest
    steps: [{ run: "echo cleaned > cleaned.txt" }]
`,
    );
    const vk = [process.execPath, valkyrieBin].map(shellWord).join(' ');
    const started = Date.now();
    const out = await shell(`${vk} run many.yml -j 4 --state-dir st | head -2; echo "rc=\${PIPESTATUS[0]}"`);
    expect(out.trim().split('\n').at(-1)).toBe('rc=141');
    // Not the 30 s of the second steps: they were stopped.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(JSON.parse(await shell(`${vk} runs --state-dir st --json`))).toMatchObject([
      { status: 'cancelled' },
    ]);
    const shown = JSON.parse(await shell(`${vk} show 1 --state-dir st --json`)) as {
      jobs: { name: string; status: string; reason?: string }[];
    };
    const legs = shown.jobs.filter((job) => job.name !== 'cleanup');
    expect(legs).toHaveLength(3);
    for (const leg of legs)
      expect(leg).toMatchObject({
        status: 'cancelled',
        reason: 'the run was interrupted: its stdout closed (EPIPE)',
      });
    expect(shown.jobs.find((job) => job.name === 'cleanup')).toMatchObject({ status: 'succeeded' });
    expect(existsSync(join(ws.dir, 'cleaned.txt'))).toBe(true);
  }, 60_000);
});
