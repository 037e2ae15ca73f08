import { afterAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';

/**
 * GitHub's idiom for a group per pull request, else per run: `github.run_id` exists only once the run
 * is created, and the group is evaluated then, so two `valkyrie run`s of it on one state directory
 * are in two groups — with `cancel-in-progress`, in one they would cancel each other.
 */
describe('valkyrie run with a concurrency group made of github.run_id', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('runs two runs of the workflow side by side, neither cancelled nor waiting', async () => {
    const file = ws.write(
      'ci.yml',
      `name: ci
concurrency:
  group: \${{ github.workflow }}-\${{ github.head_ref || github.run_id }}
  cancel-in-progress: true
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: |
          touch "started-\${{ github.run_id }}"
          # Both runs' steps at once, each waiting for the other's (60 s at most: generous).
          for i in $(seq 1200); do [ "$(ls started-* | wc -l)" -ge 2 ] && exit 0; sleep 0.05; done
          exit 1
`,
    );
    expect((await ws.run(['validate', file])).code).toBe(0);
    const [one, two] = await Promise.all([ws.run(['run', file, '--json']), ws.run(['run', file, '--json'])]);
    expect([one.code, two.code], `${one.stderr}\n${two.stderr}`).toEqual([0, 0]);
    for (const run of [one, two]) expect(run.stdout).not.toContain('"type":"concurrency"');
  }, 120_000);
});
