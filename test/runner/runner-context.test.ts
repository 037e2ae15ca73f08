import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFirstJob } from './job-run-harness.js';

const workspace = mkdtempSync(join(tmpdir(), 'vk-runner-context-'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

describe('the runner context', () => {
  it("says the runner is self-hosted, in runner.environment and RUNNER_ENVIRONMENT, as GitHub's does", async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - run: echo "\${{ runner.environment }} $RUNNER_ENVIRONMENT"
      - if: runner.environment == 'self-hosted'
        run: echo cleanup
`,
      workspace,
    );
    expect(run.outcome).toEqual({ kind: 'succeeded' });
    expect(run.lines(0)).toEqual(['self-hosted self-hosted']);
    expect(run.lines(1)).toEqual(['cleanup']);
  });

  it('sets runner.debug and RUNNER_DEBUG to 1 only while debug logging is on (ACTIONS_STEP_DEBUG)', async () => {
    const workflow = `jobs:
  a:
    runs-on: x
    steps:
      - run: echo "[\${{ runner.debug }}] [\${RUNNER_DEBUG-unset}]"
`;
    const off = await runFirstJob(workflow, workspace);
    expect(off.lines(0)).toEqual(['[] [unset]']);
    const bySecret = await runFirstJob(workflow, workspace, { secrets: { ACTIONS_STEP_DEBUG: 'true' } });
    expect(bySecret.lines(0)).toEqual(['[1] [1]']);
    const byVariable = await runFirstJob(workflow, workspace, { vars: { ACTIONS_STEP_DEBUG: ' True ' } });
    expect(byVariable.lines(0)).toEqual(['[1] [1]']);
  });
});
