import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  disabledCommand,
  saveStateDeprecation,
  setOutputDeprecation,
  unsecureCommandsAllowed,
} from '../../src/runner/step-output.js';
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

describe('::set-env:: and ::add-path::, disabled on GitHub unless ACTIONS_ALLOW_UNSECURE_COMMANDS', () => {
  it("fail the step with GitHub's words, and change nothing, without the opt-in", async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - continue-on-error: true
        run: |
          echo "::set-env name=LEAKED::1"
          echo "::add-path::/opt/leaked"
          echo still runs
      - run: echo "LEAKED=[$LEAKED] \${{ env.LEAKED }}"; case ":$PATH:" in *:/opt/leaked:*) echo on path;; esac
`,
      workspace,
    );
    expect(disabledCommand('set-env')).toBe(
      'error: The `set-env` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to `true`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/',
    );
    expect(run.lines(0)).toEqual([disabledCommand('set-env'), disabledCommand('add-path'), 'still runs']);
    expect(run.lines(1)).toEqual(['LEAKED=[] ']);
    expect(run.steps.map((s) => [s.outcome, s.exitCode])).toEqual([
      ['failure', 0],
      ['success', 0],
    ]);
  });

  it('work as $GITHUB_ENV and $GITHUB_PATH do for a step whose env sets it to true', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - env: { ACTIONS_ALLOW_UNSECURE_COMMANDS: "True" }
        run: |
          mkdir -p bin && printf '#!/bin/sh\\necho tool ran\\n' > bin/vk-tool && chmod +x bin/vk-tool
          echo "::set-env name=GREETING::a%0Ab"
          echo "::add-path::$PWD/bin"
          echo "::set-env name=node_options::--inspect"
      - run: |
          echo "GREETING=[$GREETING] NODE_OPTIONS=[$NODE_OPTIONS]"
          vk-tool
          echo "::set-env name=AGAIN::1"
`,
      workspace,
    );
    expect(run.lines(0)).toEqual([
      "error: Can't update NODE_OPTIONS environment variable using ::set-env:: command.",
    ]);
    expect(run.lines(1)).toEqual([
      'GREETING=[a',
      'b] NODE_OPTIONS=[]',
      'tool ran',
      disabledCommand('set-env'),
    ]);
    expect(run.steps.map((s) => s.outcome)).toEqual(['success', 'failure']);
  });

  it('are allowed by true, in any case, in the env context or in the process environment', () => {
    expect(unsecureCommandsAllowed({ ACTIONS_ALLOW_UNSECURE_COMMANDS: ' true ' }, {})).toBe(true);
    expect(unsecureCommandsAllowed({}, { ACTIONS_ALLOW_UNSECURE_COMMANDS: 'TRUE' })).toBe(true);
    for (const value of ['1', 'yes', '', 'truee'])
      expect(unsecureCommandsAllowed({ ACTIONS_ALLOW_UNSECURE_COMMANDS: value }, {})).toBe(false);
  });
});

describe('::save-state::, for a post step Valkyrie does not run', () => {
  it('is warned about as deprecated once per step and otherwise ignored; without a name it fails', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - run: |
          echo "::save-state name=pid::42"
          echo "::save-state name=other::1"
          echo done
      - run: echo "::save-state ::no name"
`,
      workspace,
    );
    expect(run.lines(0)).toEqual([saveStateDeprecation, 'done']);
    expect(run.lines(1)).toEqual([
      saveStateDeprecation,
      "error: Required field 'name' is missing in ::save-state:: command",
    ]);
    expect(run.steps.map((s) => s.outcome)).toEqual(['success', 'failure']);
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

describe('::debug::, shown only with step debug logging, as on GitHub', () => {
  const yaml = `jobs:
  a:
    runs-on: x
    steps:
      - run: |
          echo "::debug::looking at %25 things"
          echo shown
`;

  it('drops the line by default', async () => {
    const run = await runFirstJob(yaml, workspace);
    expect(run.lines(0)).toEqual(['shown']);
  });

  it('logs it when the secret or the variable ACTIONS_STEP_DEBUG is true', async () => {
    const bySecret = await runFirstJob(yaml, workspace, { secrets: { ACTIONS_STEP_DEBUG: 'true' } });
    expect(bySecret.lines(0)).toEqual(['debug: looking at % things', 'shown']);
    const byVar = await runFirstJob(yaml, workspace, { vars: { ACTIONS_STEP_DEBUG: ' True ' } });
    expect(byVar.lines(0)).toEqual(['debug: looking at % things', 'shown']);
  });
});
