import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFirstJob } from './job-run-harness.js';

const workspace = mkdtempSync(join(tmpdir(), 'vk-step-env-'));
mkdirSync(join(workspace, 'sub'));
writeFileSync(join(workspace, 'echo.mjs'), 'export function echo(input) { return input; }\n');
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

/** As actions/runner: a step's env: is evaluated first, and the rest of the step sees it in `env`. */
describe("a step's own env: in the env context", () => {
  it('is what the script, name, working-directory and shell of the step read', async () => {
    const run = await runFirstJob(
      `env:
  mascot: Mona
  SH: sh
jobs:
  a:
    runs-on: x
    steps:
      - run: echo "Hi \${{ env.mascot }}"
      - name: deploy to \${{ env.TARGET }}
        working-directory: \${{ env.DIR }}
        shell: \${{ env.SH }} -e {0}
        env:
          mascot: Octocat
          TARGET: prod
          DIR: sub
          SH: bash
        run: echo "Hi \${{ env.mascot }} in $(basename "$PWD") with \${{ env.SH }}" "$BASH_VERSION" | cut -c1-27
`,
      workspace,
    );
    expect(run.outcome).toEqual({ kind: 'succeeded' });
    expect(run.lines(0)).toEqual(['Hi Mona']);
    expect(run.started[1]).toBe('deploy to prod');
    expect(run.lines(1)).toEqual(['Hi Octocat in sub with bash']);
  });

  it("is what a step's with: inputs read", async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    outputs:
      said: \${{ steps.t.outputs.said }}
    steps:
      - id: t
        uses: task://./echo.mjs#echo
        env:
          WORD: hello
        with:
          said: \${{ env.WORD }}
`,
      workspace,
    );
    expect(run.outputs).toEqual({ said: 'hello' });
  });

  it('may itself use the outer env, and is what the step if: reads (evaluated after it)', async () => {
    const run = await runFirstJob(
      `env:
  LEVEL: workflow
jobs:
  a:
    runs-on: x
    env:
      GATE: open
    steps:
      - if: env.GATE == 'open'
        env:
          GATE: shut
        run: echo never
      - if: env.GATE == 'shut'
        env:
          GATE: shut
          FROM: \${{ env.LEVEL }}-\${{ env.GATE }}
        run: echo "ran with GATE=\${{ env.GATE }} FROM=\${{ env.FROM }}"
`,
      workspace,
    );
    expect(run.steps.map((s) => s.outcome)).toEqual(['skipped', 'success']);
    expect(run.lines(1)).toEqual(['ran with GATE=shut FROM=workflow-open']);
  });

  it('fails the step when it cannot be evaluated, before the step if: is looked at', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - if: false
        env:
          BAD: \${{ fromJSON('{') }}
        run: echo never
`,
      workspace,
    );
    expect(run.steps.map((s) => s.outcome)).toEqual(['failure']);
    expect(run.lines(0)).toEqual([expect.stringMatching(/^error: the step's env: could not be evaluated: /)]);
    expect(run.outcome).toMatchObject({ kind: 'failed' });
  });

  it('is what timeout-minutes and continue-on-error read', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - env:
          KEEP_GOING: true
          LIMIT: 0.001
        timeout-minutes: \${{ fromJSON(env.LIMIT) }}
        continue-on-error: \${{ fromJSON(env.KEEP_GOING) }}
        run: sleep 5
`,
      workspace,
    );
    expect(run.lines(0)).toEqual(['error: the step exceeded its timeout of 0.001 minutes (timeout-minutes)']);
    expect(run.steps.map((s) => [s.outcome, s.conclusion])).toEqual([['failure', 'success']]);
    expect(run.outcome).toEqual({ kind: 'succeeded' });
  });
});

/** GitHub's docs: GITHUB_* and RUNNER_* cannot be overwritten, but CI can (`CI: false` for a build). */
describe('the CI variable', () => {
  it('is true unless env: or $GITHUB_ENV sets it, while GITHUB_* stays the runner’s', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - run: echo "CI=$CI"
      - env:
          CI: false
          GITHUB_JOB: mine
        run: echo "CI=$CI job=$GITHUB_JOB"
      - run: echo CI= >> "$GITHUB_ENV"
      - run: echo "CI=[$CI]"
`,
      workspace,
    );
    expect([0, 1, 3].map((step) => run.lines(step))).toEqual([['CI=true'], ['CI=false job=a'], ['CI=[]']]);
  });
});
