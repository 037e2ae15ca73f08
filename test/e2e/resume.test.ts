import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStores } from '../../src/cli/state.js';
import { asRunId } from '../../src/core/ids.js';
import { dropSchema, postgresSkipReason, urlWithNewSchema } from '../store/postgres-server.js';
import { collect, Workspace, waitForJobStatus } from './cli.js';
import { isAlive, killGroup, readPid, waitFor } from './process-state.js';

/** a, then b (which sleeps on its first attempt only), then c; each appends its name to the marker. */
function chainWorkflow(ws: Workspace, marker: string, bPid: string): string {
  return ws.write(
    'chain.yml',
    `name: chain
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo a >> ${marker}
  b:
    needs: a
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo b >> ${marker}
          echo $$ > ${bPid}
          [ "$(grep -c '^b$' ${marker})" -ge 2 ] || sleep 300
          echo "token=\${{ secrets.TOKEN }}" >> ${marker}.secret
  c:
    needs: b
    runs-on: ubuntu-latest
    steps:
      - run: echo c >> ${marker}
`,
  );
}

function resumeScenario(name: string, dbArgs: () => string[], cleanup: () => Promise<void>): void {
  describe(name, () => {
    const ws = new Workspace();
    afterAll(async () => {
      ws.dispose();
      await cleanup();
    });

    it('a SIGKILLed run resumes: finished jobs stay, the interrupted one runs again, the rest follows', async () => {
      const marker = join(ws.dir, 'marker');
      const bPid = join(ws.dir, 'b.pid');
      const file = chainWorkflow(ws, marker, bPid);
      const request = [
        'run',
        file,
        '--json',
        '--secret',
        'TOKEN=s3cret',
        '--aging-interval',
        '250ms',
        '--idempotency-key',
        'chain-key',
        ...dbArgs(),
      ];
      const child = ws.start(request);
      const exited = collect(child);
      await waitFor(() => readPid(bPid) !== undefined, 20_000, 'job b to start');
      const step = readPid(bPid) ?? 0;
      // Writes are group-committed behind the work: kill once b's start is durable, as a crash would
      // otherwise also take the last uncommitted writes with it (and a would rightly run again).
      await waitForJobStatus(ws, '1', 'b', 'running', dbArgs());
      const killedAt = Date.now();
      child.kill('SIGKILL');
      killGroup(step);
      expect((await exited).signal).toBe('SIGKILL');
      await waitFor(() => !isAlive(step), 5_000, "b's step to die");

      const listed = await ws.run(['runs', '--json', ...dbArgs()]);
      const [run] = JSON.parse(listed.stdout) as { id: string; status: string; interrupted?: boolean }[];
      expect(run).toMatchObject({ status: 'running', interrupted: true });
      const id = run?.id ?? '';
      expect((await ws.run(['runs', ...dbArgs()])).stdout).toMatch(
        new RegExp(`^${id}\\s+interrupted\\s`, 'm'),
      );

      // The same request again: its key's run is the interrupted one, which its report says to resume — once.
      const duplicate = await ws.run(request);
      expect(duplicate.code).toBe(1);
      expect(duplicate.stderr).toBe(
        `valkyrie: run ${id} of chain (#1) was already submitted with idempotency key "chain-key"; it was ` +
          `interrupted (the process running it is gone). Nothing new was started; continue it with: valkyrie resume ${id}\n`,
      );

      // A new run of the same workflow (by name) points at the interrupted one.
      const other = ws.write(
        'other.yml',
        'name: chain\njobs:\n  x: { runs-on: ubuntu-latest, steps: [{ run: "true" }] }\n',
      );
      const hinted = await ws.run(['run', other, '--json', ...dbArgs()]);
      expect(hinted.code).toBe(0);
      expect(hinted.stderr).toBe(
        `valkyrie: run ${id} of chain (#1) was interrupted; continue it with: valkyrie resume ${id}\n`,
      );

      const withoutSecret = await ws.run(['resume', id, ...dbArgs()]);
      expect(withoutSecret.code).toBe(2);
      expect(withoutSecret.stderr).toContain('was started with secrets TOKEN');

      // Two resumes at once: the compare-and-set on the ownership lets exactly one of them proceed.
      const resume = () => ws.run(['resume', id, '--json', '--secret', 'TOKEN=s3cret', ...dbArgs()]);
      const both = await Promise.all([resume(), resume()]);
      expect(both.map((result) => result.code).sort()).toEqual([0, 2]);
      const resumed = both.find((result) => result.code === 0);
      const refused = both.find((result) => result.code === 2);
      expect(resumed?.stderr).toBe('');
      // Its in-process runner had registered before the jobs were queued again: none waits for a runner.
      const queued = (resumed?.stdout ?? '')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { type: string; noRunnerWith?: string[] })
        .filter((event) => event.type === 'job.queued');
      expect(queued.length).toBeGreaterThan(0);
      expect(queued.filter((event) => event.noRunnerWith !== undefined)).toEqual([]);
      expect(refused?.stderr).toMatch(
        new RegExp(
          `^valkyrie: run ${id} (was taken over or finished by another process first|is still running|already finished)`,
        ),
      );
      expect(readFileSync(marker, 'utf8')).toBe('a\nb\nb\nc\n');
      expect(readFileSync(`${marker}.secret`, 'utf8')).toBe('token=s3cret\n');

      const shown = await ws.run(['show', id, '--json', ...dbArgs()]);
      const detail = JSON.parse(shown.stdout) as {
        status: string;
        jobs: {
          name: string;
          status: string;
          attempt?: number;
          attempts: { status: string; reason?: string; finishedAt?: number }[];
        }[];
      };
      expect(detail.status).toBe('succeeded');
      expect(detail.jobs.map((job) => [job.name, job.status, job.attempt ?? 1, job.attempts.length])).toEqual(
        [
          ['a', 'succeeded', 1, 0],
          ['b', 'succeeded', 2, 1],
          ['c', 'succeeded', 1, 0],
        ],
      );
      // The step that was running when the process died is ended as cancelled in the lost attempt.
      type ShownStep = { jobAttempt?: number; conclusion?: string; finishedAt?: number };
      const bSteps = (detail.jobs[1] as unknown as { steps: ShownStep[] }).steps;
      expect(bSteps.map((step) => [step.jobAttempt ?? 1, step.conclusion])).toEqual([
        [1, 'cancelled'],
        [2, 'success'],
      ]);
      // Ended by the lost process, not failed: `runner_lost` (DESIGN: infrastructure loss is not a job error).
      expect(detail.jobs[1]?.attempts[0]).toMatchObject({
        status: 'runner_lost',
        reason: expect.stringMatching(/^runner_lost/),
      });
      // The lost attempt and its step ended when their loss became evident (their process's next
      // heartbeat was due, at most 2 s after the kill), not when the run was resumed.
      expect(detail.jobs[1]?.attempts[0]?.finishedAt).toBeLessThanOrEqual(killedAt + 2_000);
      expect(bSteps[0]?.finishedAt).toBeLessThanOrEqual(killedAt + 2_000);

      // The run keeps --aging-interval for every resume (the control plane resume starts ages by it).
      const stores = await openStores(dbArgs()[1], join(ws.dir, '.valkyrie'), { create: false });
      try {
        expect((await stores.recovery.getResumable(asRunId(id)))?.request.agingIntervalMs).toBe(250);
      } finally {
        await stores.close();
      }

      const again = await ws.run(['resume', id, ...dbArgs()]);
      expect(again.code).toBe(2);
      expect(again.stderr.trim()).toBe(`valkyrie: run ${id} already finished (succeeded); nothing to resume`);
    });

    it('refuses to resume a run whose owner is alive and sending heartbeats', async () => {
      const started = join(ws.dir, 'started');
      const file = ws.write(
        'slow.yml',
        `name: slow
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: |
          touch ${started}
          sleep 300
`,
      );
      const child = ws.start(['run', file, '--json', ...dbArgs()]);
      const exited = collect(child);
      await waitFor(() => exists(started), 20_000, 'the job to start');
      const listed = await ws.run(['runs', '--json', ...dbArgs()]);
      const [run] = JSON.parse(listed.stdout) as {
        id: string;
        workflowName: string;
        interrupted?: boolean;
      }[];
      expect(run).toMatchObject({ workflowName: 'slow' });
      expect(run?.interrupted).toBeUndefined();
      const refused = await ws.run(['resume', run?.id ?? '', ...dbArgs()]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/is still running: process \d+ on .* sent a heartbeat [\d.]+s ago/);
      child.kill('SIGINT');
      expect((await exited).code).toBe(130);
    });

    it('resume --force takes a live run over: the old process kills its step and exits 130, the new one finishes', async () => {
      const firstPid = join(ws.dir, 'first.pid');
      const file = ws.write(
        'taken.yml',
        `name: taken
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - run: |
          if [ -f ${firstPid} ]; then exit 0; fi
          echo $$ > ${firstPid}
          sleep 300
`,
      );
      const child = ws.start(['run', file, '--json', ...dbArgs()]);
      const exited = collect(child);
      await waitFor(() => readPid(firstPid) !== undefined, 20_000, 'the job to start');
      const step = readPid(firstPid) ?? 0;
      const [run] = JSON.parse((await ws.run(['runs', '--json', ...dbArgs()])).stdout) as { id: string }[];
      const id = run?.id ?? '';
      const resumed = await ws.run(['resume', id, '--force', '--json', ...dbArgs()]);
      expect(resumed.code, resumed.stderr).toBe(0);
      const old = await exited;
      expect(old.code, old.stderr).toBe(130);
      expect(old.stderr).toContain(`run ${id} was taken over by another process`);
      await waitFor(() => !isAlive(step), 5_000, "the old process's step to be killed");
      const shown = JSON.parse((await ws.run(['show', id, '--json', ...dbArgs()])).stdout) as {
        status: string;
        jobs: { name: string; status: string; attempt?: number }[];
      };
      expect(shown.status).toBe('succeeded');
      expect(shown.jobs.map((job) => [job.name, job.status, job.attempt ?? 1])).toEqual([
        ['long', 'succeeded', 2],
      ]);
    });

    it('SIGTERM of valkyrie resume cancels the run, its job saying why', async () => {
      const first = join(ws.dir, 'term-first.pid');
      const second = join(ws.dir, 'term-second.pid');
      const file = ws.write(
        'term.yml',
        `name: term
jobs:
  long:
    runs-on: ubuntu-latest
    steps:
      - run: |
          if [ -f ${first} ]; then echo $$ > ${second}; else echo $$ > ${first}; fi
          sleep 300
`,
      );
      const child = ws.start(['run', file, '--json', ...dbArgs()]);
      const exited = collect(child);
      await waitFor(() => readPid(first) !== undefined, 20_000, 'the job to start');
      const runs = JSON.parse((await ws.run(['runs', '--json', ...dbArgs()])).stdout) as {
        id: string;
        workflowName: string;
      }[];
      const id = runs.find((run) => run.workflowName === 'term')?.id ?? '';
      await waitForJobStatus(ws, id, 'long', 'running', dbArgs());
      child.kill('SIGKILL');
      killGroup(readPid(first) ?? 0);
      await exited;

      const resuming = ws.start(['resume', id, '--json', ...dbArgs()]);
      const resumed = collect(resuming);
      await waitFor(() => readPid(second) !== undefined, 20_000, 'the resumed job to start');
      resuming.kill('SIGTERM');
      expect((await resumed).code).toBe(143);
      const shown = JSON.parse((await ws.run(['show', id, '--json', ...dbArgs()])).stdout) as {
        jobs: unknown[];
      };
      expect(shown).toMatchObject({
        status: 'cancelled',
        jobs: [{ status: 'cancelled', reason: 'the run was interrupted (SIGTERM)' }],
      });
    });
  });
}

function exists(path: string): boolean {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

resumeScenario(
  'valkyrie resume (SQLite)',
  () => [],
  async () => {},
);

if (postgresSkipReason !== undefined)
  console.warn(`valkyrie resume on Postgres: skipped: ${postgresSkipReason}`);
const { url, schema } = urlWithNewSchema();
describe.skipIf(postgresSkipReason !== undefined)('on Postgres', () => {
  resumeScenario(
    'valkyrie resume (Postgres)',
    () => ['--db', url],
    () => dropSchema(schema),
  );
});
