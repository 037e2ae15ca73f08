import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { shellWord } from '../../src/cli/shell-word.js';
import { startTestServer } from '../server/helpers.js';
import { valkyrieBin, Workspace } from './cli.js';

const exec = promisify(execFile);

/**
 * `valkyrie submit > /dev/full`: the run is created, and the line on stdout that names it is lost.
 * The run is the server's and goes on (as when `--follow` loses its output, follow-run.ts); stderr
 * names it and how to follow it, and the exit code is 74, as for any lost output. Before, stderr said
 * only that stdout could not be written: the user knew a run might exist, not which.
 */
describe('valkyrie submit whose stdout cannot be written', () => {
  const ws = new Workspace();
  ws.write(
    'ci.yml',
    'name: ci\njobs:\n  build:\n    runs-on: [self-hosted]\n    steps:\n      - run: echo hi\n',
  );
  afterAll(() => ws.dispose());

  it.each([
    ['text', []],
    ['--json', ['--json']],
  ])('names the submitted run on stderr and exits 74 (%s)', async (_name, flags) => {
    const server = await startTestServer();
    const submitter = await server.token('submit');
    const command = [process.execPath, valkyrieBin, 'submit', 'ci.yml', '--no-bundle', ...flags]
      .map(shellWord)
      .join(' ');
    const { stdout, stderr } = await exec('bash', ['-c', `${command} >/dev/full; echo "rc=$?" >&2`], {
      cwd: ws.dir,
      env: { ...process.env, NO_COLOR: '1', VALKYRIE_SERVER: server.server.url, VALKYRIE_TOKEN: submitter },
    });
    expect(stdout).toBe('');
    const runs = (await server.request('GET', '/api/v1/runs')).body as { runs: { id: string }[] };
    expect(runs.runs).toHaveLength(1);
    const id = runs.runs[0]?.id ?? '';
    expect(stderr).toContain(
      `valkyrie: stdout could not be written (ENOSPC), which lost the line naming the run: run ${id} of ci (#1) is submitted all the same; follow it with: valkyrie logs ${id} -f\n`,
    );
    expect(stderr).toMatch(/rc=74\n$/);
  });
});
