import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { Workspace } from './cli.js';

/**
 * `valkyrie resume` of a run that a newer run of its workflow's group replaced while it waited, whose
 * end nobody recorded (its process died, and the newer run's process could not tell it was dead: it is
 * on another host): the replaced run never starts, so resume ends it cancelled, as it would have ended,
 * and exits 130 as `valkyrie run` does for a replaced run — it does not join the group again.
 */
describe('valkyrie resume of a run whose place in its group was taken', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('records it cancelled, replaced, runs none of its steps, and exits 130', async () => {
    const source = `name: deploy
concurrency: deploy
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - run: touch ran
`;
    ws.write('deploy.yml', source);
    const stateDir = join(ws.dir, 'state');
    const now = Date.now();
    const stores = openSqliteStores(join(stateDir, 'valkyrie.db'));
    let id: string;
    try {
      const run = await stores.runs.createRun({
        workflowName: 'deploy',
        workflowPath: 'deploy.yml',
        createdAt: now,
      });
      id = run.id;
      const request = {
        workspace: ws.dir,
        actor: 'me',
        vars: {},
        envOverrides: {},
        extraLabels: [],
        secretNames: [],
      };
      await stores.runs.recordConcurrency(run.id, { group: 'deploy', state: 'waiting', ahead: 1, at: now });
      // Its owner, on another host, stopped beating a minute ago: interrupted, but not certainly dead.
      const owner = { owner: { host: 'elsewhere', pid: 1 }, heartbeatAt: now - 60_000 };
      await stores.recovery.saveResumable(run.id, { source, request }, owner);
      const clock = { now, staleBefore: now - 10_000 };
      const join = (memberId: string) =>
        stores.concurrency.join({ group: 'deploy', memberId, cancelInProgress: false, queue: false }, clock);
      await join('holder');
      await join(`run ${run.id}:elsewhere`);
      await join('newer');
    } finally {
      await stores.close();
    }
    const resume = await ws.run(['resume', id, '--state-dir', stateDir]);
    expect(resume.stderr).toContain(
      `valkyrie: run ${id} was replaced by a newer run of concurrency group deploy before it started`,
    );
    expect(resume.code).toBe(130);
    const shown = JSON.parse((await ws.run(['show', id, '--json', '--state-dir', stateDir])).stdout);
    expect(shown).toMatchObject({
      status: 'cancelled',
      concurrency: { group: 'deploy', state: 'replaced' },
      jobs: [{ status: 'cancelled', reason: 'replaced by a newer run of concurrency group "deploy"' }],
    });
    expect(existsSync(join(ws.dir, 'ran'))).toBe(false);
  }, 30_000);
});
