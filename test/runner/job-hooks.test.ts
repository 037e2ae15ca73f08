import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runFirstJob } from './job-run-harness.js';

const workflow = `jobs:
  build:
    runs-on: x
    steps:
      - run: echo step ran
      - if: always()
        run: echo always ran
`;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A workspace with the two hook scripts, `started` and `completed`, as given. */
function withHooks(started: string, completed: string) {
  const dir = mkdtempSync(join(tmpdir(), 'vk-hooks-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'started.sh'), started);
  writeFileSync(join(dir, 'completed.sh'), completed);
  return { dir, hooks: { started: join(dir, 'started.sh'), completed: join(dir, 'completed.sh') } };
}

describe('job hooks around a job (runJob)', () => {
  it('a cancelled job ends cancelled, not failed by its interrupted started hook, and its completed hook still runs', async () => {
    const { dir, hooks } = withHooks('echo started; sleep 30\n', 'echo completed for $GITHUB_JOB\n');
    const cancel = new AbortController();
    setTimeout(() => cancel.abort('the run was cancelled'), 300);
    const run = await runFirstJob(workflow, dir, {}, {}, { hooks, signal: cancel.signal });
    expect(run.outcome).toEqual({ kind: 'cancelled', reason: 'the run was cancelled' });
    expect(run.steps).toEqual([]);
    const jobLines = run.lines(-1);
    expect(jobLines).toContain('started');
    expect(jobLines).toContain('completed for build');
    expect(jobLines.indexOf('started')).toBeLessThan(jobLines.indexOf('completed for build'));
  }, 20_000);

  // actions/runner's job-completed hook is a post-job step under always(), and its StepsRunner judges
  // no step's condition on runner shutdown: the hook is skipped then, or cancelled if it runs.
  describe("the runner's shutdown (its second signal)", () => {
    const reason = 'the runner is shutting down (second SIGTERM)';
    /** The runner's shutdown, `ms` after the job starts, or once `ready` says so (polled). */
    function shutdownAfter(ms: number, ready: () => boolean = () => true) {
      const shutdown = new AbortController();
      const cancel = new AbortController();
      const timer = setInterval(() => {
        if (!ready()) return;
        clearInterval(timer);
        shutdown.abort(reason);
        cancel.abort(reason);
      }, ms);
      return { shutdownSignal: shutdown.signal, signal: cancel.signal };
    }

    it('skips the completed hook of a job it cancels during a step, saying so', async () => {
      const { dir, hooks } = withHooks('echo started\n', 'echo completed\n');
      const slow = 'jobs:\n  build:\n    runs-on: x\n    steps:\n      - run: sleep 30\n';
      const run = await runFirstJob(slow, dir, {}, {}, { hooks, ...shutdownAfter(300) });
      expect(run.outcome).toEqual({ kind: 'cancelled', reason });
      expect(run.lines(-1)).not.toContain('completed');
      expect(run.lines(-1)).toContain(
        `the job-completed hook ${hooks.completed} is skipped: the runner is shutting down`,
      );
    }, 20_000);

    it('stops a running completed hook, and the job ends cancelled, not failed by it', async () => {
      const marker = join(tmpdir(), `vk-hook-running-${process.pid}-${Date.now()}`);
      const { dir, hooks } = withHooks(
        'echo started\n',
        `echo completing; touch ${marker}; sleep 12; echo completed\n`,
      );
      const begun = Date.now();
      // Once the hook runs, however long the steps took on a loaded machine.
      const shutdown = shutdownAfter(20, () => existsSync(marker));
      const run = await runFirstJob(workflow, dir, {}, {}, { hooks, ...shutdown });
      rmSync(marker, { force: true });
      expect(Date.now() - begun).toBeLessThan(10_000);
      expect(run.outcome).toEqual({ kind: 'cancelled', reason });
      expect(run.lines(-1)).toContain('completing');
      expect(run.lines(-1)).not.toContain('completed');
    }, 20_000);
  });

  it('a failing completed hook fails a job whose steps succeeded, and says why in its lines', async () => {
    const { dir, hooks } = withHooks('echo started\n', 'echo cleaning; exit 5\n');
    const run = await runFirstJob(workflow, dir, {}, {}, { hooks });
    expect(run.outcome).toEqual({
      kind: 'failed',
      reason: `the job-completed hook ${hooks.completed} failed (exit code 5)`,
    });
    expect(run.steps.map((step) => step.outcome)).toEqual(['success', 'success']);
    expect(run.lines(-1)).toEqual([
      `running the job-started hook ${hooks.started}`,
      'started',
      `running the job-completed hook ${hooks.completed}`,
      'cleaning',
      `error: the job-completed hook ${hooks.completed} failed (exit code 5)`,
    ]);
  });

  // Both hooks run inside the job's timeout-minutes: the job's line names the hook it stopped, not a step.
  it.each([
    { kind: 'started', started: 'echo started; sleep 30\n', completed: 'echo completed\n' },
    { kind: 'completed', started: 'echo started\n', completed: 'sleep 0.2; echo completing; sleep 30\n' },
  ] as const)(
    'a job that times out while a job hook ($kind) runs names that hook as what it stopped',
    async ({ kind, started, completed }) => {
      const { dir, hooks } = withHooks(started, completed);
      const begun = Date.now();
      const run = await runFirstJob(workflow, dir, {}, {}, { hooks, timeoutMs: 600 });
      expect(Date.now() - begun).toBeLessThan(10_000);
      expect(run.outcome).toEqual({ kind: 'timed_out' });
      expect(run.lines(-1)).toContain(
        `error: the job exceeded its timeout of 0.01 minutes (timeout-minutes); its job-${kind} hook ${hooks[kind]} was stopped`,
      );
    },
    20_000,
  );
});
