import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { setOutputDeprecation } from '../../src/runner/step-output.js';
import { parseWorkflowCommand } from '../../src/runner/workflow-commands.js';
import { runFirstJob } from './job-run-harness.js';

const workspace = mkdtempSync(join(tmpdir(), 'vk-legacy-commands-'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

describe('::set-output::, deprecated on GitHub but still honoured', () => {
  it("sets the step's output as $GITHUB_OUTPUT does, with one deprecation warning per step", async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    outputs:
      ver: \${{ steps.s.outputs.ver }}
      other: \${{ steps.s.outputs.other }}
    steps:
      - id: s
        run: |
          echo "::set-output name=ver::1.2.3"
          echo "::set-output name=other::a%0Ab"
      - run: echo "ver=[\${{ steps.s.outputs.ver }}]"
`,
      workspace,
    );
    expect(run.outcome).toEqual({ kind: 'succeeded' });
    expect(run.lines(0)).toEqual([setOutputDeprecation]);
    expect(run.lines(1)).toEqual(['ver=[1.2.3]']);
    expect(run.outputs).toEqual({ ver: '1.2.3', other: 'a\nb' });
  });

  it('without a name fails the step (its exit code 0 kept), as a failed command does in actions/runner', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - name: s
        run: |
          echo "::set-output ::no name"
          echo still runs
      - run: echo never
`,
      workspace,
    );
    expect(run.lines(0)).toEqual([
      setOutputDeprecation,
      "error: Required field 'name' is missing in ::set-output:: command",
      'still runs',
    ]);
    expect(run.steps.map((s) => [s.outcome, s.exitCode])).toEqual([
      ['failure', 0],
      ['skipped', undefined],
    ]);
    expect(run.outcome).toEqual({
      kind: 'failed',
      reason: 'step "s" failed: a workflow command it printed failed (exit code 0)',
    });
  });
});

describe('::stop-commands::TOKEN', () => {
  it('stops acting on commands in the step until ::TOKEN::, and masks a token longer than 6', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - run: |
          echo "::stop-commands::pause-token"
          echo "::error::printed-from-untrusted-log"
          echo "::add-mask::harmless"
          echo "::PAUSE-TOKEN::"
          echo "after harmless"
          echo "::stop-commands::T0k3n"
          echo "::warning::raw"
          echo "::T0k3n::"
          echo "::notice::acted on"
      - continue-on-error: true
        run: |
          echo "::stop-commands::pause-logging"
          echo "::warning::next step acts on commands"
`,
      workspace,
    );
    expect(run.lines(0)).toEqual([
      '::stop-commands::***',
      '::error::printed-from-untrusted-log',
      '::add-mask::harmless',
      // Resumed: the token is compared without case, masked with it (as GitHub's masker does).
      '::PAUSE-TOKEN::',
      'after harmless',
      '::stop-commands::T0k3n',
      '::warning::raw',
      '::T0k3n::',
      'notice: acted on',
    ]);
    expect(run.lines(1)).toEqual([
      "error: ::stop-commands:: needs a token that is not empty, not 'pause-logging' and not a workflow command's name; commands were not stopped",
      'warning: next step acts on commands',
    ]);
    // A token refused fails the step, as a failed command does in actions/runner.
    expect(run.steps.map((s) => [s.outcome, s.conclusion, s.exitCode])).toEqual([
      ['success', 'success', 0],
      ['failure', 'success', 0],
    ]);
  });

  it('takes a token of any characters, as the command name is read up to a space or ::', () => {
    expect(parseWorkflowCommand('::a1_B.c-9::')?.name).toBe('a1_b.c-9');
    expect(parseWorkflowCommand('::warning file=C:/x.ts,line=2::m')).toEqual({
      name: 'warning',
      properties: { file: 'C:/x.ts', line: '2' },
      message: 'm',
    });
  });
});
