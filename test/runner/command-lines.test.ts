import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { maxLineLength } from '../../src/executors/shell/line-splitter.js';
import { runFirstJob } from './job-run-harness.js';

const workspace = mkdtempSync(join(tmpdir(), 'vk-command-lines-'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

/** 70,000 characters that repeat nowhere within themselves, so the masker cuts nothing short. */
const longValue = "''.join(format(i, '05d') for i in range(14000))";

describe('a line longer than the splitter cuts at', () => {
  it('is read as a command only from its start: text after the cut is printed, not acted on', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - id: s
        run: python3 -c "print('x' * ${maxLineLength} + '::set-output name=v::injected')"
      - run: echo "got=\${{ steps.s.outputs.v }}"
`,
      workspace,
    );
    expect(run.outcome).toEqual({ kind: 'succeeded' });
    expect(run.lines(0)).toEqual(['x'.repeat(maxLineLength), '::set-output name=v::injected']);
    expect(run.lines(1)).toEqual(['got=']);
  });

  it('of ::add-mask:: masks the first part of the value, drops the rest and warns', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - run: |
          python3 -c "print('::add-mask::' + ${longValue})"
          python3 -c "print(${longValue})"
`,
      workspace,
    );
    expect(run.outcome).toEqual({ kind: 'succeeded' });
    const value = Array.from({ length: 14_000 }, (_, i) => String(i).padStart(5, '0')).join('');
    const firstPart = maxLineLength - '::add-mask::'.length;
    const [warning, ...printed] = run.lines(0);
    expect(warning).toBe(
      `warning: the line of a ::add-mask:: command was too long to read whole: it was acted on with its first part only and the rest was dropped; only the first ${firstPart} characters of the value are masked`,
    );
    // The command's own rest (the value's tail) never reaches the log; the value printed later is
    // masked as far as it was registered.
    expect(printed.join('')).toBe(`***${value.slice(firstPart)}`);
    expect(printed).toHaveLength(2);
  });
});

describe('workflow commands on stderr', () => {
  it('are acted on as on stdout, not printed: a mask, an annotation, a stop for both streams', async () => {
    // The two streams are read apart: the sleeps let each line be read before the next is printed.
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - run: |
          echo "::add-mask::hunter2pw" >&2; sleep 0.2
          echo "pw is hunter2pw"; sleep 0.2
          echo "::error file=a.ts,line=3::bad" >&2; sleep 0.2
          echo "::stop-commands::stopped-here" >&2; sleep 0.2
          echo "::warning::raw"; sleep 0.2
          echo "::stopped-here::"; sleep 0.2
          echo "::notice::on stderr again" >&2
`,
      workspace,
    );
    expect(run.outcome).toEqual({ kind: 'succeeded' });
    expect(run.logs.map(({ stream, text }) => `${stream} ${text}`)).toEqual([
      'stdout pw is ***',
      'system error (a.ts:3): bad',
      'stderr ::stop-commands::***',
      'stdout ::warning::raw',
      'stdout ::***::',
      'system notice: on stderr again',
    ]);
  });
});

describe('::add-mask::', () => {
  it('of an empty or blank value masks nothing and warns, as actions/runner does', async () => {
    const run = await runFirstJob(
      `jobs:
  a:
    runs-on: x
    steps:
      - run: |
          echo "::add-mask::$UNSET_TOKEN"
          echo "::add-mask::   "
          echo "a b"
`,
      workspace,
    );
    expect(run.outcome).toEqual({ kind: 'succeeded' });
    const warning = "warning: Can't add secret mask for empty string in ##[add-mask] command.";
    expect(run.lines(0)).toEqual([warning, warning, 'a b']);
  });
});
