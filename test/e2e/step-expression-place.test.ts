import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, logLines, Workspace, waitForJobStatus } from './cli.js';
import { killGroup, readPid, waitFor } from './process-state.js';

/**
 * A step key whose expression fails at run time is reported at its place in the workflow file, as
 * GitHub reports it and as Valkyrie's own checks before a run do.
 */
describe('valkyrie run with a step expression that fails as it runs', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('names the file as given, its line and column, and fails the step', async () => {
    ws.write(
      '.github/workflows/ci.yml',
      `name: ci
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo fine
      - name: bad
        run: echo \${{ fromJSON('{bad') }}
`,
    );
    const run = await ws.run(['run', '.github/workflows/ci.yml', '--json']);
    expect(run.code).toBe(1);
    expect(logLines(run.stdout, 'build')).toContainEqual(
      expect.stringMatching(
        /^error: \.github\/workflows\/ci\.yml:8:14: the step's run: could not be evaluated: fromJSON: invalid JSON/,
      ),
    );
  });

  it('places it in a resumed run too', async () => {
    const go = join(ws.dir, 'go');
    const pid = join(ws.dir, 'step.pid');
    ws.write(
      'resumed.yml',
      `name: resumed
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo $$ > ${pid}; test -f ${go} || sleep 60
      - run: echo \${{ fromJSON('{bad') }}
`,
    );
    const first = ws.start(['run', 'resumed.yml']);
    const ended = collect(first);
    await waitFor(() => existsSync(pid), 10_000, 'the first step to start');
    const runs = await ws.run(['runs', '--workflow', 'resumed', '--json']);
    const id = (JSON.parse(runs.stdout) as { id: string }[])[0]?.id ?? 'none';
    // Writes are group-committed behind the work: kill once the job's start is durable.
    await waitForJobStatus(ws, id, 'a', 'running');
    first.kill('SIGKILL');
    await ended;
    killGroup(readPid(pid));
    writeFileSync(go, '');
    const resumed = await ws.run(['resume', id, '--json']);
    expect(resumed.code, resumed.stderr).toBe(1);
    expect(logLines(resumed.stdout, 'a')).toContainEqual(
      expect.stringMatching(/^error: resumed\.yml:7:14: the step's run: could not be evaluated: fromJSON: /),
    );
  });
});
