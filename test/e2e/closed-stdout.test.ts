import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { valkyrieBin, Workspace } from './cli.js';

const exec = promisify(execFile);

/**
 * `valkyrie run … | head`: the reader closes the pipe after a few lines. The run goes on to its end,
 * its output dropped, and the command exits with the run's code (it was left interrupted, its steps
 * killed, with exit 0). A command that only shows something: closed-output.test.ts.
 */
describe('a reader that closes stdout early', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  const shell = async (pipeline: string) =>
    (await exec('bash', ['-c', pipeline], { cwd: ws.dir, env: { ...process.env, NO_COLOR: '1' } })).stdout;

  it('lets valkyrie run finish the run and exit with its code', async () => {
    ws.write(
      'many.yml',
      `name: many
jobs:
  m:
    runs-on: ubuntu-latest
    strategy: { matrix: { i: [1, 2, 3, 4, 5, 6] } }
    steps:
      - run: for n in $(seq 200); do echo line $n of \${{ matrix.i }}; done
      - run: sleep 0.2; echo done \${{ matrix.i }}
  last:
    needs: m
    runs-on: ubuntu-latest
    steps: [{ run: "exit 3" }]
`,
    );
    const vk = `${JSON.stringify(process.execPath)} ${JSON.stringify(valkyrieBin)}`;
    const out = await shell(`${vk} run many.yml -j 4 --state-dir st | head -2; echo "rc=\${PIPESTATUS[0]}"`);
    expect(out.trim().split('\n').at(-1)).toBe('rc=1');
    const runs = await shell(`${vk} runs --state-dir st --json`);
    expect(JSON.parse(runs)).toMatchObject([{ status: 'failed' }]);
    const shown = JSON.parse(await shell(`${vk} show 1 --state-dir st --json`)) as {
      jobs: { name: string; status: string }[];
    };
    expect(shown.jobs.filter((job) => job.status === 'succeeded')).toHaveLength(6);
    expect(shown.jobs.at(-1)).toMatchObject({ name: 'last', status: 'failed' });
  }, 60_000);
});
