import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { githubEnvValues, parseKeyValueFile } from '../../src/runner/file-commands.js';
import { runFirstJob } from './job-run-harness.js';

describe('GITHUB_OUTPUT / GITHUB_ENV files', () => {
  it('reads name=value lines and heredoc values, later values winning', () => {
    const values = parseKeyValueFile('a=1\nb=x=y\n\nmulti<<EOF\nline 1\nline 2\nEOF\na=2\n', 'GITHUB_OUTPUT');
    expect(Object.fromEntries(values)).toEqual({ a: '2', b: 'x=y', multi: 'line 1\nline 2' });
  });

  it('rejects a malformed line and an unterminated heredoc with the line and file named', () => {
    expect(() => parseKeyValueFile('ok=1\njust text\n', 'GITHUB_ENV')).toThrow(
      'GITHUB_ENV: line 2 is not name=value or name<<DELIMITER: "just text"',
    );
    expect(() => parseKeyValueFile('v<<END\nno end\n', 'GITHUB_OUTPUT')).toThrow(
      'GITHUB_OUTPUT: matching delimiter "END" not found for "v"',
    );
  });

  it('rejects a heredoc with an empty delimiter, as actions/runner does, rather than end it at an empty line', () => {
    expect(() => parseKeyValueFile('ok=1\nv<<\nbody\n\nw=2\n', 'GITHUB_OUTPUT')).toThrow(
      'GITHUB_OUTPUT: line 2 has an empty delimiter after "<<": "v<<"',
    );
  });
});

describe('$GITHUB_ENV and NODE_OPTIONS', () => {
  const workspace = mkdtempSync(join(tmpdir(), 'vk-github-env-'));
  afterAll(() => rmSync(workspace, { recursive: true, force: true }));
  const refusal = "error: Can't store NODE_OPTIONS output parameter using '$GITHUB_ENV' command.";

  it('leaves NODE_OPTIONS out, in any case, with the runner’s error line for each', () => {
    const lines: string[] = [];
    const values = githubEnvValues('A=1\nnode_options=--inspect\nNODE_OPTIONS<<EOF\n-r x\nEOF\n', (line) =>
      lines.push(line),
    );
    expect(Object.fromEntries(values)).toEqual({ A: '1' });
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
