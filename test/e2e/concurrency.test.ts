import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeOnPostgres, dropSchema, urlWithNewSchema } from '../store/postgres-server.js';
import { type CliResult, collect, events, statuses, Workspace } from './cli.js';
import { waitFor } from './process-state.js';

/**
 * Real `valkyrie run` processes sharing one state directory (the workspace's .valkyrie). Runs are held
 * by gate files the test creates, and joined-the-group is read from each run's own `--json` events, so
 * nothing depends on how long anything takes; marker times are compared as lower bounds only.
 */
describeGroups('concurrency groups across valkyrie run processes (SQLite)', []);
describeJobGroups('job-level concurrency groups across valkyrie run processes (SQLite)', []);

// On Postgres the processes share no file: they meet in the database, and wake each other by NOTIFY.
describeOnPostgres('on Postgres', () => {
  const { url, schema } = urlWithNewSchema();
  afterAll(() => dropSchema(schema));
  describeGroups('concurrency groups across valkyrie run processes (Postgres)', ['--db', url]);
  describeJobGroups('job-level concurrency groups across valkyrie run processes (Postgres)', ['--db', url]);
});

function describeGroups(title: string, dbArgs: readonly string[]): void {
  describe(title, () => {
    const ws = new Workspace();
    afterAll(() => ws.dispose());
    const marker = (name: string, edge: 'start' | 'end') => join(ws.dir, `${name}.${edge}`);
    const time = (name: string, edge: 'start' | 'end') => Number(readFileSync(marker(name, edge), 'utf8'));

    function workflow(file: string, concurrency: string): string {
      return ws.write(
        file,
        `concurrency: ${concurrency}
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - run: |
          node -e 'process.stdout.write(String(Date.now()))' > \${{ vars.name }}.start
          # Ends with the workspace too: a failed test removes it without opening the gate.
          while [ ! -f \${{ vars.gate }} ]; do [ -d "$GITHUB_WORKSPACE" ] || exit 1; sleep 0.05; done
          node -e 'process.stdout.write(String(Date.now()))' > \${{ vars.name }}.end
`,
      );
    }

    const start = (file: string, name: string, gate = 'open') => startRun(ws, dbArgs, file, name, gate);

    const waiting = (run: Started, ahead: number) =>
      waitFor(
        () =>
          run.output().includes('"type":"concurrency"') &&
          events(completeLines(run.output())).some(
            (event) => event.type === 'concurrency' && event.state === 'waiting' && event.ahead === ahead,
          ),
        15_000,
        `a run to wait with ${ahead} ahead`,
      );
    const started = (name: string) =>
      waitFor(() => existsSync(marker(name, 'start')), 15_000, `${name} to start`);
    const open = (gate: string) => writeFileSync(join(ws.dir, gate), '');
    writeFileSync(join(ws.dir, 'open'), '');

    it('starts a second run of the group only after the first has finished', async () => {
      const file = workflow('serial.yml', 'serial');
      const first = start(file, 'serial-1', 'serial-gate');
      await started('serial-1');
      const second = start(file, 'serial-2');
      await waiting(second, 1);
      expect(existsSync(marker('serial-2', 'start'))).toBe(false);
      open('serial-gate');
      const [one, two] = await Promise.all([first.done, second.done]);
      expect([one.code, two.code]).toEqual([0, 0]);
      expect(time('serial-2', 'start')).toBeGreaterThanOrEqual(time('serial-1', 'end'));
    });

    it('a newer run replaces the waiting one, which ends cancelled without running a step', async () => {
      const file = workflow('replace.yml', 'replace');
      const first = start(file, 'replace-1', 'replace-gate');
      await started('replace-1');
      const second = start(file, 'replace-2');
      await waiting(second, 1);
      const third = start(file, 'replace-3');
      await waiting(third, 1);
      const replaced = await second.done;
      expect(replaced.code).toBe(130);
      const states = events(replaced.stdout).map((event) => [event.type, event.state]);
      expect(states).toContainEqual(['concurrency', 'replaced']);
      expect(events(replaced.stdout).some((event) => event.type === 'run.started')).toBe(false);
      // Its jobs never queued: no job.queued, and no queuedAt (it was stored after their end).
      expect(events(replaced.stdout).some((event) => event.type === 'job.queued')).toBe(false);
      const runId = String(events(replaced.stdout).find((event) => event.type === 'concurrency')?.runId);
      const shown = await ws.run(['show', runId, '--json', ...dbArgs]);
      const jobs = (JSON.parse(shown.stdout) as { jobs: Record<string, unknown>[] }).jobs;
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({ status: 'cancelled', finishedAt: expect.any(Number) });
      expect(jobs[0]).not.toHaveProperty('queuedAt');
      open('replace-gate');
      const [one, three] = await Promise.all([first.done, third.done]);
      expect([one.code, three.code]).toEqual([0, 0]);
      expect(existsSync(marker('replace-2', 'start'))).toBe(false);
      expect(time('replace-3', 'start')).toBeGreaterThanOrEqual(time('replace-1', 'end'));
    });

    it('with cancel-in-progress a newer run cancels the running one, then runs', async () => {
      const file = workflow('cancel.yml', '{group: cancel, cancel-in-progress: true}');
      const first = start(file, 'cancel-1', 'never');
      await started('cancel-1');
      const second = start(file, 'cancel-2');
      const cancelled = await first.done;
      expect(cancelled.code).toBe(130);
      expect(statuses(cancelled.stdout)).toEqual({ work: 'cancelled' });
      expect(events(cancelled.stdout).map((event) => [event.type, event.state])).toContainEqual([
        'concurrency',
        'cancel-requested',
      ]);
      expect(existsSync(marker('cancel-1', 'end'))).toBe(false);
      // Its job says why, naming the group, in `valkyrie show --json` and in its log.
      const reason = 'cancelled by a newer run of concurrency group "cancel"';
      const runId = String(events(cancelled.stdout).find((event) => event.type === 'run.started')?.runId);
      const shown = JSON.parse((await ws.run(['show', runId, '--json', ...dbArgs])).stdout) as {
        jobs: unknown[];
      };
      expect(shown.jobs).toMatchObject([{ status: 'cancelled', reason }]);
      const logs = await ws.run(['logs', runId, 'work', ...dbArgs]);
      expect(logs.stdout).toContain(`cancelling the job: ${reason}`);
      const finished = await second.done;
      expect(finished.code).toBe(0);
      expect(existsSync(marker('cancel-2', 'end'))).toBe(true);
    });

    it('Ctrl-C while waiting leaves the group: exit 130, nothing ran, the next run is not held up', async () => {
      const file = workflow('interrupt.yml', '{group: interrupt, queue: true}');
      const first = start(file, 'interrupt-1', 'interrupt-gate');
      await started('interrupt-1');
      const second = start(file, 'interrupt-2');
      await waiting(second, 1);
      second.child.kill('SIGINT');
      const interrupted = await second.done;
      expect(interrupted.code).toBe(130);
      expect(events(interrupted.stdout).some((event) => event.type === 'run.started')).toBe(false);
      const third = start(file, 'interrupt-3');
      await waiting(third, 1);
      open('interrupt-gate');
      const [one, three] = await Promise.all([first.done, third.done]);
      expect([one.code, three.code]).toEqual([0, 0]);
      expect(existsSync(marker('interrupt-2', 'start'))).toBe(false);
    });

    it('with queue: true every waiting run keeps its place, in order', async () => {
      const file = workflow('queue.yml', '{group: queued, queue: true}');
      const first = start(file, 'queue-1', 'queue-gate');
      await started('queue-1');
      const second = start(file, 'queue-2');
      await waiting(second, 1);
      const third = start(file, 'queue-3');
      await waiting(third, 2);
      open('queue-gate');
      const results = await Promise.all([first.done, second.done, third.done]);
      expect(results.map((result) => result.code)).toEqual([0, 0, 0]);
      expect(time('queue-2', 'start')).toBeGreaterThanOrEqual(time('queue-1', 'end'));
      expect(time('queue-3', 'start')).toBeGreaterThanOrEqual(time('queue-2', 'end'));
    });
  });
}

/** The NDJSON lines written so far, without a line still being written. */
function completeLines(stdout: string): string {
  return stdout.slice(0, stdout.lastIndexOf('\n') + 1);
}

function describeJobGroups(title: string, dbArgs: readonly string[]): void {
  describe(title, () => {
    const ws = new Workspace();
    afterAll(() => ws.dispose());
    writeFileSync(join(ws.dir, 'open'), '');
    const marker = (name: string, edge: 'start' | 'end') => join(ws.dir, `${name}.${edge}`);
    const time = (name: string, edge: 'start' | 'end') => Number(readFileSync(marker(name, edge), 'utf8'));

    function workflow(file: string, concurrency: string): string {
      return ws.write(
        file,
        `jobs:
  free:
    runs-on: ubuntu-latest
    steps:
      - run: touch \${{ vars.name }}.free
  deploy:
    runs-on: ubuntu-latest
    concurrency: ${concurrency}
    steps:
      - run: |
          node -e 'process.stdout.write(String(Date.now()))' > \${{ vars.name }}.start
          # Ends with the workspace too: a failed test removes it without opening the gate.
          while [ ! -f \${{ vars.gate }} ]; do [ -d "$GITHUB_WORKSPACE" ] || exit 1; sleep 0.05; done
          node -e 'process.stdout.write(String(Date.now()))' > \${{ vars.name }}.end
`,
      );
    }

    const start = (file: string, name: string, gate = 'open') => startRun(ws, dbArgs, file, name, gate);
    const started = (name: string) =>
      waitFor(() => existsSync(marker(name, 'start')), 15_000, `${name} to start`);

    it('runs the job of a second run only after the first run’s job has finished; other jobs are not held', async () => {
      const file = workflow('job-serial.yml', 'deploy-${{ vars.target }}');
      const first = start(file, 'job-1', 'job-gate');
      await started('job-1');
      const second = start(file, 'job-2');
      await waitFor(
        () => second.output().includes('waiting for concurrency group deploy-'),
        15_000,
        'the second run’s job to wait for its group',
      );
      await waitFor(() => existsSync(join(ws.dir, 'job-2.free')), 15_000, 'the ungrouped job to run');
      expect(existsSync(marker('job-2', 'start'))).toBe(false);
      writeFileSync(join(ws.dir, 'job-gate'), '');
      const [one, two] = await Promise.all([first.done, second.done]);
      expect([one.code, two.code]).toEqual([0, 0]);
      expect(time('job-2', 'start')).toBeGreaterThanOrEqual(time('job-1', 'end'));
    });

    it('a newer run’s job replaces a waiting job, which ends cancelled without running a step', async () => {
      const file = workflow('job-replace.yml', 'job-replace');
      const first = start(file, 'jr-1', 'jr-gate');
      await started('jr-1');
      const waitingFor = (run: ReturnType<typeof start>) =>
        waitFor(
          () => run.output().includes('waiting for concurrency group job-replace'),
          15_000,
          'a job to wait',
        );
      const second = start(file, 'jr-2');
      await waitingFor(second);
      const third = start(file, 'jr-3');
      await waitingFor(third);
      const replaced = await second.done;
      expect(replaced.code).toBe(130);
      expect(statuses(replaced.stdout)).toEqual({ free: 'succeeded', deploy: 'cancelled' });
      // The group's name in quotes, as --json writes them.
      expect(replaced.stdout).toContain(
        String.raw`replaced by a newer job of concurrency group \"job-replace\"`,
      );
      // The control plane's lines about the job are kept with its log, not only printed live.
      const runId = events(replaced.stdout).find((event) => event.type === 'run.started')?.runId;
      const logs = await ws.run(['logs', String(runId), 'deploy', ...dbArgs]);
      expect(logs.stdout.split('\n').filter((line) => line !== '')).toEqual([
        'waiting for concurrency group job-replace',
        'replaced by a newer job of concurrency group "job-replace"',
      ]);
      writeFileSync(join(ws.dir, 'jr-gate'), '');
      const [one, three] = await Promise.all([first.done, third.done]);
      expect([one.code, three.code]).toEqual([0, 0]);
      expect(existsSync(marker('jr-2', 'start'))).toBe(false);
      expect(time('jr-3', 'start')).toBeGreaterThanOrEqual(time('jr-1', 'end'));
    });

    it('with cancel-in-progress the newer run’s job cancels the running job; that run ends cancelled', async () => {
      const file = workflow('job-cancel.yml', '{group: job-cancel, cancel-in-progress: true}');
      const first = start(file, 'jc-1', 'never');
      await started('jc-1');
      const second = start(file, 'jc-2');
      const cancelled = await first.done;
      expect(cancelled.code).toBe(130);
      expect(statuses(cancelled.stdout)).toEqual({ free: 'succeeded', deploy: 'cancelled' });
      const finished = await second.done;
      expect(finished.code).toBe(0);
      expect(existsSync(marker('jc-2', 'end'))).toBe(true);
    });
  });
}

interface Started {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
  output(): string;
}

/** `valkyrie run FILE --json` with the store's arguments, `name` and `gate` as vars, its stdout kept. */
function startRun(
  ws: Workspace,
  dbArgs: readonly string[],
  file: string,
  name: string,
  gate: string,
): Started {
  const child = ws.start([
    'run',
    file,
    ...dbArgs,
    '--json',
    '--var',
    `name=${name}`,
    '--var',
    `gate=${gate}`,
  ]);
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  return { child, done: collect(child), output: () => stdout };
}
