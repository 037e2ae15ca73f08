import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { workflowTextSha256 } from '../../src/protocol/workflow-file.js';
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
        timeout-minutes: \${{ fromJSON(vars.x) }}
        run: echo never
      - if: always()
        continue-on-error: \${{ fromJSON('y') }}
        run: echo never
`,
      workspace,
      // From a context: an expression of constants alone that cannot be evaluated is refused by validation.
      { vars: { x: 'x' } },
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

describe("a step key's expression error, placed in the workflow file", () => {
  const yaml = `jobs:
  a:
    runs-on: x
    defaults:
      run:
        shell: \${{ format('{0', 'bash') }}
    outputs:
      o: \${{ fromJSON('[') }}
    steps:
      - name: first
        run: echo \${{ fromJSON('not json') }}
      - if: \${{ always() && fromJSON('x') }}
        run: echo never
      - if: always()
        env:
          A: \${{ fromJSON('y') }}
        run: echo never
      - if: always()
        with:
          k: \${{ fromJSON('z') }}
        uses: task://./t.mjs#run
      - if: always()
        run: echo plain
`;
  const file = (path: string) => ({ workflowFile: { path, sha256: workflowTextSha256(yaml) } });

  it('names FILE:LINE:COL of the key, of the defaults a shell came from, and of an output', async () => {
    mkdirSync(join(workspace, '.github'), { recursive: true });
    writeFileSync(join(workspace, '.github', 'w.yml'), yaml);
    const run = await runFirstJob(yaml, workspace, {}, file('.github/w.yml'));
    const placed = [
      [0, "11:14: the step's run: could not be evaluated: fromJSON: "],
      [1, "12:13: the step's if: condition failed: fromJSON: "],
      [2, "16:11: the step's env: could not be evaluated: fromJSON: "],
      [3, "20:11: the step's with: could not be evaluated: fromJSON: "],
      // The step sets no shell: the job's defaults.run gave it.
      [4, "6:16: the step's shell: could not be evaluated: format: "],
    ] as const;
    for (const [index, message] of placed) {
      const expected = `error: .github/w.yml:${message}`;
      const [line = '', ...more] = run.lines(index);
      // The line goes on with the error's own words: compared up to them, a mismatch shows both.
      expect(line.slice(0, expected.length)).toBe(expected);
      expect(more).toEqual([]);
    }
    expect(run.lines(-1)).toContainEqual(
      expect.stringMatching(/^warning: \.github\/w\.yml:8:10: output "o" could not be evaluated: fromJSON: /),
    );
  });

  it('places nothing when the file there is no longer the text the job was planned from', async () => {
    writeFileSync(join(workspace, 'changed.yml'), `# edited since\n${yaml}`);
    const run = await runFirstJob(yaml, workspace, {}, file('changed.yml'));
    expect(run.lines(0)).toEqual([expect.stringMatching(/^error: the step's run: could not be evaluated: /)]);
  });

  it('reads no file outside the workspace, whatever the spec names', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'vk-step-key-outside-'));
    try {
      writeFileSync(join(outside, 'w.yml'), yaml);
      const escaping = relative(workspace, join(outside, 'w.yml'));
      expect(escaping.startsWith('..')).toBe(true);
      for (const path of [escaping, join(outside, 'w.yml')]) {
        const run = await runFirstJob(yaml, workspace, {}, file(path));
        expect(run.lines(0)).toEqual([expect.stringMatching(/^error: the step's run: /)]);
      }
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe("a step's timeout-minutes that evaluates to no positive number, placed in the workflow file", () => {
  it('names FILE:LINE:COL of the key, as the job-level one does', async () => {
    const yaml = `jobs:
  a:
    runs-on: x
    steps:
      - run: echo never
        timeout-minutes: \${{ vars.t }}
`;
    writeFileSync(join(workspace, 'timeout.yml'), yaml);
    const run = await runFirstJob(
      yaml,
      workspace,
      { vars: { t: 'abc' } },
      { workflowFile: { path: 'timeout.yml', sha256: workflowTextSha256(yaml) } },
    );
    expect(run.lines(0)).toEqual([
      `error: timeout.yml:6:26: timeout-minutes must be a positive number of minutes, received "abc" (from \${{ vars.t }})`,
    ]);
  });
});
