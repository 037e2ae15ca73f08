import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { events, logLines, Workspace } from './cli.js';

/** A JavaScript action with pre:, main: and post:, used by several steps, run with real `valkyrie run`. */
describe('pre: and post: of a local JavaScript action', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  const script = (phase: string, extra = '') => `const fs = require('node:fs');
const label = process.env.INPUT_LABEL;
console.log('${phase} ' + label + ' pre-state=' + process.env.STATE_from_pre + ' main-state=' + process.env.STATE_saved + ' env=' + process.env.STEP_ENV);
${extra}`;

  it('runs each pre before the steps, and each post after them in reverse, for the steps whose main ran', async () => {
    ws.write(
      '.github/actions/phases/action.yml',
      `name: phases
inputs:
  label: { required: true }
  fail: { default: 'no' }
runs:
  using: node20
  pre: pre.js
  main: main.js
  post: post.js
`,
    );
    ws.write(
      '.github/actions/phases/pre.js',
      script('pre', "fs.appendFileSync(process.env.GITHUB_STATE, 'from_pre=' + label + '\\n');"),
    );
    ws.write(
      '.github/actions/phases/main.js',
      script(
        'main',
        `fs.appendFileSync(process.env.GITHUB_STATE, 'saved=' + label + '-state\\n');
if (process.env.INPUT_FAIL === 'yes') process.exit(3);`,
      ),
    );
    ws.write('.github/actions/phases/post.js', script('post'));
    const file = ws.write(
      'phases.yml',
      `jobs:
  phases:
    runs-on: ubuntu-latest
    steps:
      - name: First
        uses: ./.github/actions/phases
        env: { STEP_ENV: e1 }
        with: { label: one }
      - name: Off
        if: \${{ false }}
        uses: ./.github/actions/phases
        with: { label: off }
      - run: echo middle
      - name: Failing
        uses: ./.github/actions/phases
        with: { label: two, fail: 'yes' }
      - name: After
        uses: ./.github/actions/phases
        with: { label: three }
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(1);
    const said = logLines(result.stdout, 'phases').filter((line) => /^(pre|main|post|middle)/.test(line));
    expect(said).toEqual([
      'pre one pre-state=undefined main-state=undefined env=e1',
      'pre two pre-state=undefined main-state=undefined env=undefined',
      // After's pre runs (its if: is success() at the job's start), its main is skipped: no post.
      'pre three pre-state=undefined main-state=undefined env=undefined',
      'main one pre-state=one main-state=undefined env=e1',
      'middle',
      'main two pre-state=two main-state=undefined env=undefined',
      'post two pre-state=two main-state=two-state env=undefined',
      'post one pre-state=one main-state=one-state env=e1',
    ]);
    const runId = String(events(result.stdout)[0]?.runId);
    const logs = await ws.run(['logs', runId, 'phases']);
    expect(logs.code).toBe(0);
    const headings = logs.stdout
      .replace(/ in \d[\d.]*m?s\n/g, '\n')
      .split('\n')
      .filter((line) => /^[▶✓✗-] /.test(line));
    expect(headings).toEqual([
      '▶ Pre First',
      '✓ succeeded',
      '▶ Pre Failing',
      '✓ succeeded',
      '▶ Pre After',
      '✓ succeeded',
      '▶ First',
      '✓ succeeded',
      '▶ Off',
      '- skipped',
      '▶ Run echo middle',
      '✓ succeeded',
      '▶ Failing',
      '✗ failed (exit code 3)',
      '▶ After',
      '- skipped',
      '▶ Post Failing',
      '✓ succeeded',
      '▶ Post First',
      '✓ succeeded',
    ]);
    expect(logs.stdout).not.toContain('not supported');
  });

  it('fails the job for a failing post, honours post-if and pre-if, and keeps ::save-state', async () => {
    ws.write(
      '.github/actions/strict/action.yml',
      `runs:
  using: node20
  pre: pre.js
  pre-if: \${{ false }}
  main: main.js
  post: post.js
  post-if: success()
`,
    );
    ws.write('.github/actions/strict/pre.js', "console.log('strict pre');\n");
    // The deprecated ::save-state, which an older @actions/core prints, saves state as $GITHUB_STATE does.
    ws.write(
      '.github/actions/strict/main.js',
      "console.log('strict main'); console.log('::save-state name=old::way');\n",
    );
    ws.write(
      '.github/actions/strict/post.js',
      "console.log('strict post ' + process.env.STATE_old); process.exit(4);\n",
    );
    const file = ws.write(
      'strict.yml',
      `jobs:
  strict:
    runs-on: ubuntu-latest
    steps:
      - name: Strict
        uses: ./.github/actions/strict
      - run: echo done
`,
    );
    const result = await ws.run(['run', file, '--json']);
    const lines = logLines(result.stdout, 'strict');
    expect(lines).not.toContain('strict pre');
    expect(lines).toContain('strict main');
    expect(lines).toContain('strict post way');
    expect(result.code).toBe(1);
    const completed = events(result.stdout).filter((event) => event.type === 'step.completed');
    const names = completed.map((event) => {
      const step = event.step as { name: string; conclusion: string };
      return `${step.name}: ${step.conclusion}`;
    });
    expect(names).toEqual([
      'Pre Strict: skipped',
      'Strict: success',
      'Run echo done: success',
      'Post Strict: failure',
    ]);
  });

  it('runs the post of a main part that could not start (its runs.main missing), as GitHub does', async () => {
    ws.write(
      '.github/actions/broken/action.yml',
      `runs:
  using: node20
  main: missing.js
  post: post.js
`,
    );
    ws.write('.github/actions/broken/post.js', "console.log('broken post');\n");
    const file = ws.write(
      'broken.yml',
      `jobs:
  broken:
    runs-on: ubuntu-latest
    steps:
      - name: Broken
        uses: ./.github/actions/broken
        continue-on-error: true
      - name: Started
        uses: ./.github/actions/phases
        with: { label: started, fail: 'yes' }
        continue-on-error: true
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    const lines = logLines(result.stdout, 'broken');
    expect(lines).toContain(
      `error: local action ./.github/actions/broken: runs.main missing.js was not found (${join(ws.dir, '.github/actions/broken/missing.js')})`,
    );
    // actions/runner registers the post before its handler looks for the main script.
    expect(lines).toContain('broken post');
    expect(lines).toContain('post started pre-state=started main-state=started-state env=undefined');
    const completed = events(result.stdout).filter((event) => event.type === 'step.completed');
    const names = completed.map((event) => {
      const step = event.step as { name: string; outcome: string };
      return `${step.name}: ${step.outcome}`;
    });
    expect(names).toEqual([
      'Pre Started: success',
      'Broken: failure',
      'Started: failure',
      'Post Started: success',
      'Post Broken: success',
    ]);
  });

  it("runs the pre and post of an action a composite action uses at the job's start and end", async () => {
    ws.write(
      '.github/actions/wrap/action.yml',
      `inputs:
  tag: { default: wrapped }
runs:
  using: composite
  steps:
    - uses: ./.github/actions/phases
      with: { label: 'nested-\${{ inputs.tag }}' }
    - if: \${{ false }}
      uses: ./.github/actions/phases
      with: { label: never }
    - uses: ./.github/actions/strict
    - uses: ./.github/actions/phases
      with: { label: second }
`,
    );
    const file = ws.write(
      'nested.yml',
      `jobs:
  nested:
    runs-on: ubuntu-latest
    steps:
      - name: Wrapped
        uses: ./.github/actions/wrap
        env: { STEP_ENV: w }
      - run: echo between
`,
    );
    const result = await ws.run(['run', file, '--json']);
    const said = logLines(result.stdout, 'nested').filter((line) => !line.startsWith('Run ./'));
    expect(said).toEqual([
      // The pres of the actions it uses, before the job's steps: not the one its if: skips, and
      // strict's pre-if is false.
      'pre nested-wrapped pre-state=undefined main-state=undefined env=w',
      'pre second pre-state=undefined main-state=undefined env=w',
      'main nested-wrapped pre-state=nested-wrapped main-state=undefined env=w',
      'strict main',
      expect.stringContaining('warning: The `save-state` command is deprecated'),
      'main second pre-state=second main-state=undefined env=w',
      'between',
      // The posts of the nested actions whose main ran, the last first, each with its own state.
      'post second pre-state=second main-state=second-state env=w',
      // strict's post-if is success(), so it runs (and fails the job): its ::save-state is kept.
      'strict post way',
      'post nested-wrapped pre-state=nested-wrapped main-state=nested-wrapped-state env=w',
    ]);
    expect(result.code).toBe(1);
    const completed = events(result.stdout).filter((event) => event.type === 'step.completed');
    const names = completed.map((event) => {
      const step = event.step as { name: string; conclusion: string };
      return `${step.name}: ${step.conclusion}`;
    });
    expect(names).toEqual([
      'Pre Wrapped (./.github/actions/phases): success',
      'Pre Wrapped (./.github/actions/strict): skipped',
      'Pre Wrapped (./.github/actions/phases): success',
      'Wrapped: success',
      'Run echo between: success',
      'Post Wrapped (./.github/actions/phases): success',
      'Post Wrapped (./.github/actions/strict): failure',
      'Post Wrapped (./.github/actions/phases): success',
    ]);
  });
});
