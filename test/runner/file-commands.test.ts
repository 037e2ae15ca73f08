import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { applyGithubEnv } from '../../src/runner/file-commands.js';
import { runFirstJob } from './job-run-harness.js';

describe('a malformed $GITHUB_OUTPUT or $GITHUB_ENV', () => {
  const workspace = mkdtempSync(join(tmpdir(), 'vk-command-files-'));
  afterAll(() => rmSync(workspace, { recursive: true, force: true }));

  // actions/runner applies each file's entries as it reads them and each file on its own
  // (FileCommandManager.ProcessFiles), failing the step for the bad one.
  it('fails the step, keeping the entries before the bad line and the other file’s', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - id: s
        continue-on-error: true
        run: |
          echo "before=1" >> "$GITHUB_OUTPUT"
          echo "   " >> "$GITHUB_OUTPUT"
          echo "after=2" >> "$GITHUB_OUTPUT"
          echo "E1=one" >> "$GITHUB_ENV"
          echo "=nameless" >> "$GITHUB_ENV"
          echo "E2=two" >> "$GITHUB_ENV"
      - run: echo "[\${{ steps.s.outputs.before }}] [\${{ steps.s.outputs.after }}] [$E1] [$E2] \${{ steps.s.outcome }}"
`,
      workspace,
    );
    expect(run.lines(0)).toEqual([
      'error: GITHUB_OUTPUT: line 2 holds only whitespace; only an empty line may stand between entries: "   "',
      'error: GITHUB_ENV: line 2 has an empty name before "="',
    ]);
    expect(run.lines(1)).toEqual(['[1] [] [one] [] failure']);
  });
});

describe('$GITHUB_ENV and NODE_OPTIONS', () => {
  const workspace = mkdtempSync(join(tmpdir(), 'vk-github-env-'));
  afterAll(() => rmSync(workspace, { recursive: true, force: true }));
  const refusal = "error: Can't store NODE_OPTIONS output parameter using '$GITHUB_ENV' command.";

  it('leaves NODE_OPTIONS out, in any case, with the runner’s error line for each', () => {
    const lines: string[] = [];
    const env: Record<string, string> = {};
    applyGithubEnv('A=1\nnode_options=--inspect\nNODE_OPTIONS<<EOF\n-r x\nEOF\n', env, (line) =>
      lines.push(line),
    );
    expect(env).toEqual({ A: '1' });
    expect(lines).toEqual([refusal, refusal]);
  });

  it('is refused as actions/runner refuses it: an error line, the step not failed, the variable not set', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - run: |
          echo "NODE_OPTIONS=--require ./evil.js" >> "$GITHUB_ENV"
          echo "KEPT=yes" >> "$GITHUB_ENV"
      - run: echo "NODE_OPTIONS=[$NODE_OPTIONS] [\${{ env.NODE_OPTIONS }}] KEPT=[$KEPT]"
`,
      workspace,
    );
    expect(run.lines(0)).toEqual([refusal]);
    // The step's environment keeps what the runner itself was started with (none, or vitest's).
    expect(run.lines(1)).toEqual([`NODE_OPTIONS=[${process.env.NODE_OPTIONS ?? ''}] [] KEPT=[yes]`]);
    expect(run.steps.map((s) => s.outcome)).toEqual(['success', 'success']);
    expect(run.outcome).toEqual({ kind: 'succeeded' });
  });
});

describe('$GITHUB_STEP_SUMMARY', () => {
  const workspace = mkdtempSync(join(tmpdir(), 'vk-step-summary-'));
  afterAll(() => rmSync(workspace, { recursive: true, force: true }));

  it('drops a summary past 1 MiB with actions/runner’s error line, without failing the step', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - run: |
          echo "# small" >> "$GITHUB_STEP_SUMMARY"
      - run: |
          head -c 1100000 /dev/zero | tr '\\0' a >> "$GITHUB_STEP_SUMMARY"
`,
      workspace,
    );
    expect(run.lines(0)).toEqual(['summary: # small']);
    expect(run.lines(1)).toEqual([
      'error: $GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of 1024k, got 1074k.',
    ]);
    expect(run.steps.map((s) => s.outcome)).toEqual(['success', 'success']);
  });
});

describe('$GITHUB_PATH', () => {
  const workspace = mkdtempSync(join(tmpdir(), 'vk-github-path-'));
  afterAll(() => rmSync(workspace, { recursive: true, force: true }));

  it('moves a directory added again to the front, once, as actions/runner does, also by ::add-path::', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    env: { ACTIONS_ALLOW_UNSECURE_COMMANDS: "true" }
    steps:
      - run: |
          echo /vk-a >> "$GITHUB_PATH"
          echo /vk-b >> "$GITHUB_PATH"
          echo /vk-c >> "$GITHUB_PATH"
      - run: |
          echo /vk-a >> "$GITHUB_PATH"
          echo /vk-a >> "$GITHUB_PATH"
      - run: echo "::add-path::/vk-b"
      - run: echo "$PATH" | tr ':' '\\n' | grep '^/vk-' | paste -sd ' ' -
`,
      workspace,
    );
    expect(run.lines(3)).toEqual(['/vk-b /vk-a /vk-c']);
  });

  // A failed attempt's directories are dropped before the next attempt (docs/retries.md): with one
  // moved to the front, dropping what was appended since is not enough.
  it('is rewound before a retried step’s next attempt, also a directory the failed attempt moved', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - run: |
          echo /vk-a >> "$GITHUB_PATH"
          echo /vk-b >> "$GITHUB_PATH"
      - retry: { max-attempts: 2, delay: 0s }
        run: |
          test -e "$RUNNER_TEMP/tried" && exit 0
          touch "$RUNNER_TEMP/tried"
          echo /vk-a >> "$GITHUB_PATH"
          echo /vk-x >> "$GITHUB_PATH"
          exit 1
      - run: echo "$PATH" | tr ':' '\\n' | grep '^/vk-' | paste -sd ' ' -
`,
      workspace,
    );
    expect(run.lines(2)).toEqual(['/vk-b /vk-a']);
  });
});
