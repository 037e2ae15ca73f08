import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, Workspace } from './cli.js';
import { gatedGroupRuns, type ListedRun, type ShownRun } from './gated-group-runs.js';
import { holdWriteLock } from './sqlite-write-lock.js';

/**
 * docs/faults.md: a store that fails while a run waits for its workflow's concurrency group (a lock
 * past the busy timeout) ends the command as a failed write does — one line naming the store's error,
 * exit 69, the run left unfinished for `valkyrie resume` — not as a run a newer one replaced.
 */
describe('the store fails while a run waits for its concurrency group', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());
  const { children, marker, open, started, workflow } = gatedGroupRuns(ws);

  it('exits 69 with one line naming the store error; the run is left waiting, and resumes', async () => {
    const file = workflow('faulty');
    const start = (name: string, gate: string, env: Record<string, string> = {}) => {
      const child = ws.start(['run', file, '--var', `name=${name}`, '--var', `gate=${gate}`], env);
      children.push(child);
      return collect(child);
    };
    const holder = start('faulty-1', 'faulty-gate');
    try {
      await started('faulty-1');
      const waiter = start('faulty-2', 'open', { VALKYRIE_SQLITE_BUSY_TIMEOUT: '200ms' });
      const run = await waitingRun(ws, 'faulty');
      // The holder waits out the lock (5 s busy timeout); the waiter's next beat does not.
      await holdWriteLock(join(ws.dir, '.valkyrie', 'valkyrie.db'), 1_500);
      const ended = await waiter;
      expect(ended.code).toBe(69);
      expect(ended.stderr).toMatch(/^valkyrie: [^\n]+\n$/);
      expect(ended.stderr).toContain(
        `valkyrie: run ${run.id} stopped while it waited for concurrency group faulty: the store failed: could not `,
      );
      expect(ended.stderr).toContain('locked for longer than the busy timeout, 200 ms');
      expect(ended.stderr).toContain(`valkyrie resume ${run.id}`);
      expect(ended.stderr).not.toContain('replaced');
      const shown = JSON.parse((await ws.run(['show', run.id, '--json'])).stdout) as ShownRun;
      expect(shown).toMatchObject({ status: 'queued', concurrency: { group: 'faulty', state: 'waiting' } });
      expect(shown.jobs).toEqual([]);
      expect((await ws.run(['runs'])).stdout).toMatch(new RegExp(`${run.id}\\s+interrupted`));
      open('faulty-gate');
      expect((await holder).code).toBe(0);
      const resumed = await ws.run(['resume', run.id]);
      expect(resumed.code).toBe(0);
      expect(existsSync(marker('faulty-2'))).toBe(true);
    } finally {
      open('faulty-gate');
    }
  });
});

async function waitingRun(ws: Workspace, group: string): Promise<ListedRun> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const listed = JSON.parse((await ws.run(['runs', '--json'])).stdout) as ListedRun[];
    const found = listed.find((run) => run.status === 'queued' && run.concurrency?.state === 'waiting');
    if (found?.concurrency?.group === group) return found;
    if (Date.now() > deadline) throw new Error(`no run listed as waiting for ${group}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
