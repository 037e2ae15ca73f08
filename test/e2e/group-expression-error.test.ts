import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

/**
 * A workflow-level concurrency group that cannot be evaluated refuses the run, creating nothing: the
 * message names the group's file:line:col, and `--json` says so on stdout as `run.refused`, as it does
 * for a full queue.
 */
describe('valkyrie run with a concurrency group that cannot be evaluated', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('exits 2 naming file:line:col, and --json prints run.refused', async () => {
    ws.write(
      'bad.yml',
      `name: bad
concurrency:
  group: g-\${{ fromJSON('{bad') }}
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: touch ran
`,
    );
    const run = await ws.run(['run', 'bad.yml', '--json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "valkyrie: bad.yml:3:10: the workflow's concurrency group could not be evaluated: fromJSON: invalid JSON",
    );
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      type: 'run.refused',
      code: 'VK_EXPRESSION',
      file: 'bad.yml',
      line: 3,
      col: 10,
      message: expect.stringContaining('bad.yml:3:10: '),
    });
    expect(JSON.parse((await ws.run(['runs', '--json'])).stdout)).toEqual([]);
  });

  it('names cancel-in-progress and its file:line:col when that is what cannot be evaluated', async () => {
    ws.write(
      'cancel.yml',
      `name: cancel
concurrency:
  group: deploy
  cancel-in-progress: \${{ fromJSON(vars.cancel) }}
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: touch ran
`,
    );
    const run = await ws.run(['run', 'cancel.yml', '--json', '--var', 'cancel=nope']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "valkyrie: cancel.yml:4:23: the workflow's concurrency cancel-in-progress could not be evaluated: fromJSON: invalid JSON",
    );
    expect(JSON.parse(run.stdout.trim())).toMatchObject({ code: 'VK_EXPRESSION', line: 4, col: 23 });
    expect(JSON.parse((await ws.run(['runs', '--json'])).stdout)).toEqual([]);
  });

  it('refuses a group that evaluates to an empty string, naming it', async () => {
    ws.write(
      'empty.yml',
      'name: empty\nconcurrency: ${{ vars.empty }}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: touch ran\n',
    );
    const run = await ws.run(['run', 'empty.yml']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('empty.yml:2:14: ');
    expect(run.stderr).toContain('evaluated to an empty string');
  });

  it('refuses a group whose expression yields an object or a list, which would be group "Object"', async () => {
    ws.write(
      'object.yml',
      `name: object
concurrency:
  group: deploy-\${{ github.event }}
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: touch ran
`,
    );
    const run = await ws.run(['run', 'object.yml', '--json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "valkyrie: object.yml:3:10: the workflow's concurrency group could not be evaluated: ${{ github.event }} yielded an object, and a concurrency group must be text",
    );
    expect(JSON.parse(run.stdout.trim())).toMatchObject({ code: 'VK_EXPRESSION', line: 3, col: 10 });
    expect(JSON.parse((await ws.run(['runs', '--json'])).stdout)).toEqual([]);
  });
});
