import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { logLines, statuses, Workspace } from './cli.js';

const workflow = `jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - run: cat marker.txt
`;

describe('uses: actions/checkout through valkyrie run', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('succeeds at once, saying the working tree is the checkout, and later steps see its files', async () => {
    ws.write('marker.txt', 'in the working tree\n');
    const result = await ws.run(['run', ws.write('ci.yml', workflow), '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({ build: 'succeeded' });
    const lines = logLines(result.stdout, 'build');
    expect(lines.filter((line) => line.startsWith('actions/checkout:'))).toEqual([
      `actions/checkout: the job’s workspace (${ws.dir}) is used as the checkout; nothing was fetched`,
    ]);
    expect(lines).toContain('in the working tree');
  });

  it("judges inputs written as expressions by their values, and sets actions/checkout's outputs", async () => {
    // A repository, so that github.sha and github.ref have values.
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.email=ci@example.com', '-c', 'user.name=ci', ...args], {
        cwd: ws.dir,
      });
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-q', '-m', 'first');
    const sha = git('rev-parse', 'HEAD').toString().trim();
    const file = ws.write(
      'pr.yml',
      `on:
  workflow_dispatch:
    inputs:
      version: { type: string, default: '' }
jobs:
  pr:
    runs-on: ubuntu-latest
    steps:
      - id: co
        uses: actions/checkout@v4
        with:
          ref: \${{ github.head_ref }}
          repository: \${{ github.repository }}
      - run: echo "commit=\${{ steps.co.outputs.commit }} sha=\${{ github.sha }} ref=\${{ steps.co.outputs.ref }}"
  release:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: \${{ inputs.version }}
`,
    );
    const same = await ws.run(['run', file, '--json']);
    expect(same.code).toBe(0);
    const [echoed] = logLines(same.stdout, 'pr').filter((line) => line.startsWith('commit='));
    expect(echoed).toBe(`commit=${sha} sha=${sha} ref=refs/heads/main`);
    const other = await ws.run(['run', file, '--json', '--input', 'version=v9']);
    expect(other.code).toBe(1);
    expect(statuses(other.stdout)).toEqual({ pr: 'succeeded', release: 'failed' });
    expect(logLines(other.stdout, 'release')).toContainEqual(
      expect.stringMatching(/^error: actions\/checkout: with\.ref is "v9", which asks for another ref/),
    );
  });
});
