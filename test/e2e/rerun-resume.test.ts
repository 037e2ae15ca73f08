import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStores } from '../../src/cli/state.js';
import { asRunId } from '../../src/core/ids.js';
import { dbOnNewSchemas, postgresSkipReason } from '../store/postgres-server.js';
import { collect, type ShownJob, statuses, Workspace, waitForJobStatus } from './cli.js';
import { isAlive, killGroup, readPid, waitFor } from './process-state.js';

/**
 * build → flaky → after. flaky fails until the file `fixed` exists; while `armed` exists (and `fixed`
 * does not) it sleeps instead, so that a re-run can be killed with flaky's next attempt running.
 */
const chain = `name: chain
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo "build \${{ github.run_attempt }}" >> marker
  flaky:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "flaky \${{ github.run_attempt }}" >> marker
          [ -f fixed ] && exit 0
          if [ -f armed ]; then echo $$ > step.pid; sleep 300; fi
          exit 1
  after:
    needs: flaky
    runs-on: ubuntu-latest
    steps:
      - run: echo "after \${{ github.run_attempt }}" >> marker
`;

interface ShownRun {
  status: string;
  jobs: ShownJob[];
}

/**
 * A re-run whose process died before it had planned every job it runs again leaves those jobs with
 * their earlier attempt's final status; `valkyrie resume` must run them again, not keep that status.
 */
function rerunResumeScenario(name: string, newDb: () => string[]): void {
  describe(name, () => {
    const workspaces: Workspace[] = [];
    afterAll(() => {
      for (const ws of workspaces) ws.dispose();
    });

    /**
     * A workspace, with a store of its own (`db`, its --db arguments), whose run 1 of `chain` ended
     * failed: build succeeded, flaky failed, after skipped.
     */
    async function failedRun(): Promise<{ ws: Workspace; db: string[] }> {
      const ws = new Workspace();
      workspaces.push(ws);
      const db = newDb();
      const first = await ws.run(['run', ws.write('chain.yml', chain), '--json', ...db]);
      expect(statuses(first.stdout)).toEqual({ build: 'succeeded', flaky: 'failed', after: 'skipped' });
      return { ws, db };
    }

    /** The run's status, and each job's name, status and attempt. */
    async function shown(
      ws: Workspace,
      db: readonly string[],
    ): Promise<{ status: string; jobs: Omit<ShownJob, 'attempts'>[] }> {
      const run = JSON.parse((await ws.run(['show', '1', '--json', ...db])).stdout) as ShownRun;
      return {
        status: run.status,
        jobs: run.jobs.map(({ name, status, attempt }) => ({ name, status, attempt })),
      };
    }

    /**
     * What `valkyrie rerun [--all]` writes first (startRerun: RunRecoveryStore.reopen, marking the jobs
     * it runs again), by a process that then died before it wrote anything else.
     */
    async function reopenedByDeadProcess(ws: Workspace, db: readonly string[], scope: 'failed' | 'all') {
      const gone = spawnSync(process.execPath, ['-e', '']).pid;
      const stores = await openStores(db[1], join(ws.dir, '.valkyrie'), { create: false });
      try {
        const jobs = await stores.runs.listJobs(asRunId('1'));
        const rerun = jobs.filter((job) => scope === 'all' || job.key !== 'build').map((job) => job.id);
        const owner = { owner: { host: hostname(), pid: gone }, heartbeatAt: Date.now() };
        expect(await stores.recovery.reopen(asRunId('1'), 'failed', owner, { jobIds: rerun })).toEqual({
          kind: 'claimed',
        });
      } finally {
        await stores.close();
      }
    }

    function markerLines(ws: Workspace): string[] {
      return readFileSync(join(ws.dir, 'marker'), 'utf8').split('\n').filter(Boolean);
    }

    it('killed with the failed job running again: the job after it runs on resume, as its next attempt', async () => {
      const { ws, db } = await failedRun();
      writeFileSync(join(ws.dir, 'armed'), '');
      const child = ws.start(['rerun', '1', '--json', ...db]);
      const exited = collect(child);
      const pid = join(ws.dir, 'step.pid');
      await waitFor(() => readPid(pid) !== undefined, 20_000, "the re-run's flaky to start");
      const step = readPid(pid) ?? 0;
      await waitForJobStatus(ws, '1', 'flaky', 'running', db);
      child.kill('SIGKILL');
      killGroup(step);
      expect((await exited).signal).toBe('SIGKILL');
      await waitFor(() => !isAlive(step), 5_000, "flaky's step to die");

      writeFileSync(join(ws.dir, 'fixed'), '');
      const resumed = await ws.run(['resume', '1', '--json', ...db]);
      expect(resumed.stderr).toBe('');
      expect(resumed.code).toBe(0);
      expect(markerLines(ws)).toEqual(['build 1', 'flaky 1', 'flaky 2', 'flaky 2', 'after 2']);
      expect(await shown(ws, db)).toEqual({
        status: 'succeeded',
        jobs: [
          { name: 'build', status: 'succeeded', attempt: 1 },
          { name: 'flaky', status: 'succeeded', attempt: 3 },
          { name: 'after', status: 'succeeded', attempt: 2 },
        ],
      });
    });

    for (const scope of ['failed', 'all'] as const) {
      it(`reopened by a re-run of ${scope} jobs that died before writing a job: resume runs them all again`, async () => {
        const { ws, db } = await failedRun();
        await reopenedByDeadProcess(ws, db, scope);
        rmSync(join(ws.dir, 'marker'));
        writeFileSync(join(ws.dir, 'fixed'), '');
        const resumed = await ws.run(['resume', '1', '--json', ...db]);
        expect(resumed.stderr).toBe('');
        expect(resumed.code).toBe(0);
        const build = scope === 'all' ? ['build 2'] : [];
        expect(markerLines(ws)).toEqual([...build, 'flaky 2', 'after 2']);
        expect(await shown(ws, db)).toEqual({
          status: 'succeeded',
          jobs: [
            { name: 'build', status: 'succeeded', attempt: scope === 'all' ? 2 : 1 },
            { name: 'flaky', status: 'succeeded', attempt: 2 },
            { name: 'after', status: 'succeeded', attempt: 2 },
          ],
        });
      });
    }

    it('cancelled after a re-run died before writing a job: the jobs it ran again end cancelled, as their next attempt', async () => {
      const { ws, db } = await failedRun();
      await reopenedByDeadProcess(ws, db, 'failed');
      const cancelled = await ws.run(['cancel', '1', ...db]);
      expect(cancelled.stderr).toBe('Run 1 had been interrupted; its unfinished jobs are now cancelled.\n');
      expect(cancelled.code).toBe(0);
      const run = JSON.parse((await ws.run(['show', '1', '--json', ...db])).stdout) as ShownRun;
      expect(run.status).toBe('cancelled');
      expect(
        run.jobs.map(({ name, status, attempt, attempts }) => ({
          name,
          status,
          attempt,
          attempts: attempts.map((a) => ({ attempt: a.attempt, status: a.status })),
        })),
      ).toEqual([
        { name: 'build', status: 'succeeded', attempt: 1, attempts: [] },
        { name: 'flaky', status: 'cancelled', attempt: 2, attempts: [{ attempt: 1, status: 'failed' }] },
        { name: 'after', status: 'cancelled', attempt: 2, attempts: [{ attempt: 1, status: 'skipped' }] },
      ]);
    });
  });
}

rerunResumeScenario('valkyrie resume of an unfinished re-run (SQLite)', () => []);

if (postgresSkipReason !== undefined)
  console.warn(`valkyrie resume of an unfinished re-run on Postgres: skipped: ${postgresSkipReason}`);
describe.skipIf(postgresSkipReason !== undefined)('on Postgres', () => {
  rerunResumeScenario('valkyrie resume of an unfinished re-run (Postgres)', dbOnNewSchemas());
});
