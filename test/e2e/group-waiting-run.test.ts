import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { describeOnPostgres, dropSchema, urlWithNewSchema } from '../store/postgres-server.js';
import { type CliResult, collect, Workspace } from './cli.js';
import { gatedGroupRuns, type ListedRun, type ShownRun } from './gated-group-runs.js';

/**
 * A `valkyrie run` waiting for its workflow's concurrency group has a run record from the start, as a
 * server's run has: `valkyrie runs` and `show` list it queued and say which group it waits for,
 * `valkyrie cancel` ends its wait from another terminal, a newer run that replaces it leaves it
 * recorded cancelled with the group named, and one whose process was killed is resumed. Runs are held
 * by gate files; gated steps also end when the workspace is removed, so a failed test leaves none.
 */
describeWaitingRuns('a run waiting for its concurrency group (SQLite)', []);

describeOnPostgres('on Postgres', () => {
  const { url, schema } = urlWithNewSchema();
  afterAll(() => dropSchema(schema));
  describeWaitingRuns('a run waiting for its concurrency group (Postgres)', ['--db', url]);
});

function describeWaitingRuns(title: string, dbArgs: readonly string[]): void {
  describe(title, () => {
    const ws = new Workspace();
    afterAll(() => ws.dispose());
    const { children, marker, open, started, workflow } = gatedGroupRuns(ws);
    const start = (file: string, name: string, gate = 'never'): ChildProcess => {
      const child = ws.start(['run', file, ...dbArgs, '--var', `name=${name}`, '--var', `gate=${gate}`]);
      children.push(child);
      return child;
    };
    const cli = (...args: string[]) => ws.run([...args, ...dbArgs]);
    const listed = async (): Promise<ListedRun[]> =>
      JSON.parse((await cli('runs', '--json')).stdout) as ListedRun[];
    const shown = async (id: string): Promise<ShownRun> =>
      JSON.parse((await cli('show', id, '--json')).stdout) as ShownRun;
    /** The run of `group` listed as waiting for it with `ahead` before it, once it is. */
    async function waitingRun(group: string, ahead: number): Promise<ListedRun> {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const found = (await listed()).find(
          (run) =>
            run.status === 'queued' &&
            run.concurrency?.group === group &&
            run.concurrency.state === 'waiting' &&
            run.concurrency.ahead === ahead,
        );
        if (found !== undefined) return found;
        if (Date.now() > deadline)
          throw new Error(`no run of ${group} listed as waiting with ${ahead} ahead`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }

    it('is listed queued, waiting for its group, and valkyrie cancel ends its wait', async () => {
      const file = workflow('listed');
      const holder = collect(start(file, 'listed-1', 'listed-gate'));
      try {
        await started('listed-1');
        const waiter = collect(start(file, 'listed-2', 'open'));
        const run = await waitingRun('listed', 1);
        const show = await cli('show', run.id);
        expect(show.stdout).toContain(
          `waiting for concurrency group listed (1 ahead); valkyrie cancel ${run.id} gives up its place`,
        );
        expect((await cli('runs')).stdout).toContain('(waiting for concurrency group listed)');
        const logs = await cli('logs', run.id);
        expect(logs).toMatchObject({ code: 0, stdout: '' });
        expect(logs.stderr).toContain(
          `valkyrie: run ${run.id} has not started any job yet (waiting for concurrency group listed)`,
        );
        const cancel = await cli('cancel', run.id);
        expect(cancel.code).toBe(0);
        const ended = await waiter;
        expect(ended.code).toBe(130);
        expect(ended.stderr).toContain(
          `valkyrie: run ${run.id} was cancelled while it waited for concurrency group listed: cancelled by a cancel request`,
        );
        expect(await shown(run.id)).toMatchObject({
          status: 'cancelled',
          jobs: [
            {
              status: 'cancelled',
              reason: expect.stringMatching(
                /^cancelled by a cancel request \(valkyrie cancel by \S+ on \S+\)$/,
              ),
            },
          ],
        });
        expect((await cli('show', run.id)).stdout).toContain(
          'cancelled while it waited for concurrency group listed',
        );
        expect(existsSync(marker('listed-2'))).toBe(false);
      } finally {
        open('listed-gate');
      }
      expect((await holder).code).toBe(0);
    });

    it('replaced by a newer run, it is recorded cancelled, saying the group replaced it', async () => {
      const file = workflow('superseded');
      const holder = collect(start(file, 'superseded-1', 'superseded-gate'));
      let newer: Promise<CliResult> | undefined;
      try {
        await started('superseded-1');
        const older = collect(start(file, 'superseded-2', 'open'));
        const run = await waitingRun('superseded', 1);
        newer = collect(start(file, 'superseded-3', 'open'));
        expect((await older).code).toBe(130);
        expect(await shown(run.id)).toMatchObject({
          status: 'cancelled',
          concurrency: { group: 'superseded', state: 'replaced' },
          jobs: [
            { status: 'cancelled', reason: 'replaced by a newer run of concurrency group "superseded"' },
          ],
        });
        expect((await cli('show', run.id)).stdout).toContain(
          'replaced by a newer run of concurrency group superseded before it started',
        );
        // The newer run waits for a second more: `show` tells that wait apart from its duration.
        await new Promise((resolve) => setTimeout(resolve, 1_100));
      } finally {
        open('superseded-gate');
      }
      expect((await holder).code).toBe(0);
      expect((await newer)?.code).toBe(0);
      // Once admitted it no longer waits, in the record either.
      const runs = (await listed()).filter((listedRun) => listedRun.workflowName === 'superseded');
      const [last] = runs;
      expect(last).toMatchObject({
        status: 'succeeded',
        concurrency: { group: 'superseded', state: 'admitted' },
      });
      expect(last?.concurrency?.ahead).toBeUndefined();
      // It started when the group admitted it, after the holder's end, not when it was submitted.
      const first = runs.at(-1);
      expect(last?.startedAt).toBeGreaterThanOrEqual(first?.finishedAt ?? Number.POSITIVE_INFINITY);
      expect(last?.createdAt).toBeLessThan(first?.finishedAt ?? 0);
      const shownNewer = (await cli('show', last?.id ?? '')).stdout;
      expect(shownNewer).toMatch(/waited \d+\.\ds for concurrency group superseded before it started/);
      expect(existsSync(marker('superseded-2'))).toBe(false);
      expect(existsSync(marker('superseded-3'))).toBe(true);
    });

    it('killed while it waits, it is resumed: it waits again, then runs', async () => {
      const file = workflow('killed');
      const holder = collect(start(file, 'killed-1', 'killed-gate'));
      try {
        await started('killed-1');
        const waiter = start(file, 'killed-2', 'open');
        const run = await waitingRun('killed', 1);
        waiter.kill('SIGKILL');
        await collect(waiter);
        const resumer = ws.start(['resume', run.id, ...dbArgs]);
        children.push(resumer);
        const resumed = collect(resumer);
        await waitingRun('killed', 1);
        expect(existsSync(marker('killed-2'))).toBe(false);
        open('killed-gate');
        expect((await resumed).code).toBe(0);
        const after = await shown(run.id);
        expect(after.status).toBe('succeeded');
        expect(after.startedAt).toEqual(expect.any(Number));
      } finally {
        open('killed-gate');
      }
      expect((await holder).code).toBe(0);
      expect(existsSync(marker('killed-2'))).toBe(true);
    });

    // Its member is of this host and its process is gone: the group drops it as soon as it is next
    // looked at (here, the holder's release), rather than promote it and hold the next run back until
    // its beats are 10 s old.
    it('killed while it waits, it holds back no run that comes after the holder ends', async () => {
      const file = workflow('dead-waiter');
      const holder = collect(start(file, 'dead-waiter-1', 'dead-waiter-gate'));
      try {
        await started('dead-waiter-1');
        const waiter = start(file, 'dead-waiter-2', 'open');
        await waitingRun('dead-waiter', 1);
        waiter.kill('SIGKILL');
        await collect(waiter);
      } finally {
        open('dead-waiter-gate');
      }
      expect((await holder).code).toBe(0);
      const next = await collect(start(file, 'dead-waiter-3', 'open'));
      expect(next.code, next.stdout + next.stderr).toBe(0);
      expect(next.stdout + next.stderr).not.toContain('waiting for concurrency group');
      expect(existsSync(marker('dead-waiter-2'))).toBe(false);
    });
  });
}
