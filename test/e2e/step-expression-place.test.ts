import { afterAll, describe, expect, it } from 'vitest';
import { logLines, Workspace } from './cli.js';

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
});
