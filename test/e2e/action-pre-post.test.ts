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

  it('runs no pre or post of an action a composite action uses, and says so', async () => {
    ws.write(
      '.github/actions/wrap/action.yml',
      `runs:
  using: composite
  steps:
    - uses: ./.github/actions/phases
      with: { label: nested }
`,
    );
    const file = ws.write(
      'nested.yml',
      `jobs:
  nested:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/wrap
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    const why =
      "does not run: Valkyrie runs the pre: and post: of an action a workflow's step uses, not of one a composite action uses";
    expect(logLines(result.stdout, 'nested')).toEqual([
      'Run ./.github/actions/phases',
      `.github/actions/phases/action.yml:7:3: warning: runs.pre ${why}`,
      `.github/actions/phases/action.yml:9:3: warning: runs.post ${why}`,
      'main nested pre-state=undefined main-state=undefined env=undefined',
    ]);
  });
});
