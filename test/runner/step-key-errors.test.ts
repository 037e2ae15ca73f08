import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFirstJob } from './job-run-harness.js';

const workspace = mkdtempSync(join(tmpdir(), 'vk-step-key-'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

describe('a step key whose expression cannot be evaluated', () => {
  it('fails the step naming the key, as env: and if: do', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - run: echo \${{ fromJSON('not json') }}
      - if: always()
        shell: \${{ format('{0', 'bash') }}
        run: echo never
      - if: always()
        working-directory: \${{ fromJSON('[') }}
        run: echo never
      - if: always()
        timeout-minutes: \${{ fromJSON('x') }}
        run: echo never
      - if: always()
        continue-on-error: \${{ fromJSON('y') }}
        run: echo never
`,
      workspace,
    );
    expect(run.steps.map((s) => s.outcome)).toEqual(['failure', 'failure', 'failure', 'failure', 'failure']);
    const keys = ['run', 'shell', 'working-directory', 'timeout-minutes', 'continue-on-error'];
    for (const [index, key] of keys.entries())
      expect(run.lines(index)).toEqual([
        expect.stringMatching(
          new RegExp(`^error: the step's ${key}: could not be evaluated: (fromJSON|format): `),
        ),
      ]);
  });
});
