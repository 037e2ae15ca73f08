import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { describeOnPostgres, dropSchema, urlWithNewSchema } from '../store/postgres-server.js';
import { collect, Workspace } from './cli.js';
import { gatedGroupRuns, type ListedRun, type ShownRun } from './gated-group-runs.js';

/**
 * What ends a run waiting for its workflow's concurrency group when its own process cannot: a run
 * killed while it waited and then replaced by a newer run is recorded cancelled by the newer run's
 * process (it never starts, `valkyrie resume` does not run it, and no hint offers to resume it); and a
 * re-run cancelled while it waits exits 130 as `valkyrie run` does. Runs are held by gate files.
 */
describeReplacedRuns('a waiting run that cannot record its own end (SQLite)', []);

describeOnPostgres('on Postgres', () => {
  const { url, schema } = urlWithNewSchema();
  afterAll(() => dropSchema(schema));
  describeReplacedRuns('a waiting run that cannot record its own end (Postgres)', ['--db', url]);
});

function describeReplacedRuns(title: string, dbArgs: readonly string[]): void {
  describe(title, () => {
    const ws = new Workspace();
    afterAll(() => ws.dispose());
    const { children, marker, open, started, workflow } = gatedGroupRuns(ws, { okLine: true });
    const spawn = (args: readonly string[]): ChildProcess => {
      const child = ws.start([...args, ...dbArgs]);
      children.push(child);
      return child;
    };
    const start = (file: string, name: string, gate = 'never', ok = 'open'): ChildProcess =>
      spawn(['run', file, '--var', `name=${name}`, '--var', `gate=${gate}`, '--var', `ok=${ok}`]);
    const cli = (...args: string[]) => ws.run([...args, ...dbArgs]);
    const listed = async (): Promise<ListedRun[]> =>
      JSON.parse((await cli('runs', '--json')).stdout) as ListedRun[];
    const shown = async (id: string): Promise<ShownRun> =>
      JSON.parse((await cli('show', id, '--json')).stdout) as ShownRun;
    /** The run listed as waiting for `group` (`id`'s, when given), once it is. */
    async function waitingRun(group: string, id?: string): Promise<ListedRun> {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const found = (await listed()).find(
          (run) =>
            (id === undefined || run.id === id) &&
            run.concurrency?.group === group &&
            run.concurrency.state === 'waiting',
        );
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`no run listed as waiting for ${group}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    it('killed while it waits, then replaced: recorded cancelled by the newer run, and never run', async () => {
      const file = workflow('dead');
      const holder = collect(start(file, 'dead-1', 'dead-gate'));
      try {
        await started('dead-1');
        const killed = start(file, 'dead-2', 'open');
        const run = await waitingRun('dead');
        killed.kill('SIGKILL');
        await collect(killed);
        const newer = collect(start(file, 'dead-3', 'open'));
        const reason = 'replaced by a newer run of concurrency group "dead"';
        const deadline = Date.now() + 15_000;
        while ((await shown(run.id)).status !== 'cancelled' && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 100));
        expect(await shown(run.id)).toMatchObject({
          status: 'cancelled',
          concurrency: { group: 'dead', state: 'replaced' },
          jobs: [{ status: 'cancelled', reason }],
        });
        const resume = await cli('resume', run.id);
        expect(resume.code).not.toBe(0);
        expect(resume.stderr).toContain('already finished (cancelled)');
        open('dead-gate');
        const ended = await newer;
        expect(ended.code).toBe(0);
        expect(ended.stderr).not.toContain(`run ${run.id} of dead was interrupted`);
      } finally {
        open('dead-gate');
      }
      expect((await holder).code).toBe(0);
      expect(existsSync(marker('dead-2'))).toBe(false);
    });

    it('a re-run waiting for its group is listed so; cancelled, it exits 130, saying so', async () => {
      const file = workflow('again');
      const failed = await collect(start(file, 'again-1', 'open', 'missing'));
      expect(failed.code).toBe(1);
      const first = (await listed()).find((run) => run.status === 'failed');
      if (first === undefined) throw new Error('the failed run is not listed');
      const holder = collect(start(file, 'again-2', 'again-gate'));
      try {
        await started('again-2');
        const rerun = collect(spawn(['rerun', first.id]));
        await waitingRun('again', first.id);
        expect((await cli('runs')).stdout).toContain('(waiting for concurrency group again)');
        expect((await cli('show', first.id)).stdout).toContain(
          `waiting for concurrency group again (1 ahead); valkyrie cancel ${first.id} gives up its place`,
        );
        expect((await cli('cancel', first.id)).code).toBe(0);
        const ended = await rerun;
        expect(ended.code).toBe(130);
        expect(ended.stderr).toContain(
          `valkyrie: run ${first.id} was cancelled while it waited for concurrency group again`,
        );
      } finally {
        open('again-gate');
      }
      expect((await holder).code).toBe(0);
    });
  });
}
