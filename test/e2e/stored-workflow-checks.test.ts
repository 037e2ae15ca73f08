import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { openStores } from '../../src/cli/state.js';
import { statuses, Workspace } from './cli.js';

const ws = new Workspace();
afterAll(() => ws.dispose());

/**
 * What an earlier Valkyrie ran, and `valkyrie run` now refuses: a context and hashFiles() where
 * GitHub's context-availability table does not allow them. Both evaluate when the job runs.
 */
const olderWorkflow = `on: workflow_dispatch
jobs:
  build:
    runs-on: ubuntu-latest
    if: \${{ secrets.X == '' }}
    strategy:
      fail-fast: \${{ matrix.os != 'win' }}
      matrix:
        os: [linux]
    outputs:
      key: \${{ hashFiles('*.lock') }}
    steps:
      - run: echo built
  after:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: echo "key=\${{ needs.build.outputs.key }}" > after.txt
`;

it('resumes a run that an earlier Valkyrie stored with an expression refused since, warning of it', async () => {
  const file = ws.write('wf.yml', olderWorkflow);
  ws.write('a.lock', 'lock');
  const refused = await ws.run(['run', file]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('error: context "matrix" is not available');

  // As an earlier `valkyrie run` recorded it before it was SIGKILLed: the run, its text and request,
  // owned by a process of this host that is gone.
  const gone = spawnSync(process.execPath, ['-e', '']).pid;
  const stores = await openStores(undefined, join(ws.dir, '.valkyrie'));
  try {
    const run = await stores.runs.createRun({
      workflowName: 'wf',
      workflowPath: 'wf.yml',
      createdAt: Date.now(),
    });
    const request = {
      workspace: ws.dir,
      actor: 'me',
      vars: {},
      envOverrides: {},
      extraLabels: [],
      secretNames: [],
      event: 'workflow_dispatch',
    };
    const owner = { host: hostname(), pid: gone };
    await stores.recovery.saveResumable(
      run.id,
      { source: olderWorkflow, request },
      { owner, heartbeatAt: Date.now() },
    );
    expect(run.id).toBe('1');
  } finally {
    await stores.close();
  }

  const resumed = await ws.run(['resume', '1', '--json']);
  expect(resumed.code, resumed.stderr).toBe(0);
  expect(resumed.stderr).toMatch(
    /wf\.yml:7:22: warning: context "matrix" is not available in jobs\.<job_id>\.strategy .*; only a warning in a run stored before Valkyrie checked this/,
  );
  expect(resumed.stderr).toMatch(/wf\.yml:11:16: warning: hashFiles\(\) is not available/);
  expect(statuses(resumed.stdout)).toEqual({ 'build (linux)': 'succeeded', after: 'succeeded' });
  expect(readFileSync(join(ws.dir, 'after.txt'), 'utf8')).toMatch(/^key=[0-9a-f]{64}\n$/);
});
