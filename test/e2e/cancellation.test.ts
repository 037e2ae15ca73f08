import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collect, events, logLines, statuses, summary, Workspace } from './cli.js';
import { isAlive, readPid, waitFor } from './process-state.js';

describe('cancellation, timeouts and fail-fast', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('Ctrl-C cancels gracefully, exits 130 and leaves no process behind', async () => {
    const pidFile = join(ws.dir, 'grandchild.pid');
    const file = ws.write(
      'long.yml',
      `jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: |
          sleep 300 &
          echo $! > ${pidFile}
          sleep 300
      - name: never runs
        run: echo after
      - name: cleanup
        if: always()
        run: echo cleanup ran
`,
    );
    const child = ws.start(['run', file, '--json']);
    const done = collect(child);
    await waitFor(() => readPid(pidFile) !== undefined, 10_000, 'the step to start its background process');
    const grandchild = readPid(pidFile) ?? 0;
    expect(isAlive(grandchild)).toBe(true);
    const interruptedAt = Date.now();
    child.kill('SIGINT');
    const result = await done;
    expect(result.code).toBe(130);
    expect(Date.now() - interruptedAt).toBeLessThan(8_000);
    expect(statuses(result.stdout)).toEqual({ slow: 'cancelled' });
    expect(result.stdout).toContain('cleanup ran');
    expect(result.stdout).not.toContain('"after"');
    // The job says why, in `valkyrie show` and in the run's events.
    const reason = 'the run was interrupted (SIGINT)';
    const runId = String(events(result.stdout).find((event) => event.type === 'run.started')?.runId);
    const shown = JSON.parse((await ws.run(['show', runId, '--json'])).stdout) as { jobs: unknown[] };
    expect(shown.jobs).toMatchObject([{ status: 'cancelled', reason }]);
    expect(events(result.stdout)).toContainEqual(
      expect.objectContaining({ type: 'job.completed', status: 'cancelled', reason }),
    );
    expect(logLines(result.stdout, 'slow')).toContain(`cancelling the job: ${reason}`);
    await waitFor(() => !isAlive(grandchild), 2_000, 'the background grandchild to die');
  });

  // Without the second signal the step, which ignores both, dies only after the escalation's grace
  // (SIGTERM 7.5 s after SIGINT, SIGKILL 2.5 s later): well past the bound, even on a slow machine.
  it.each([
    { signal: 'SIGINT', code: 130, says: 'Cancelling the run (Ctrl-C again to kill at once)…' },
    {
      signal: 'SIGTERM',
      code: 143,
      says: 'Cancelling the run on SIGTERM (a second SIGTERM kills its steps at once)…',
    },
  ] as const)('a second $signal kills at once, as the first one said', async ({ signal, code, says }) => {
    const pidFile = join(ws.dir, `stubborn-${signal}.pid`);
    const file = ws.write(
      `stubborn-${signal}.yml`,
      `jobs:
  stubborn:
    runs-on: ubuntu-latest
    steps:
      - run: |
          trap '' INT TERM
          echo $$ > ${pidFile}
          while true; do sleep 0.1; done
`,
    );
    const child = ws.start(['run', file]);
    const done = collect(child);
    let stderr = '';
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    await waitFor(() => readPid(pidFile) !== undefined, 10_000, 'the step to start');
    child.kill(signal);
    await waitFor(() => stderr.includes(says), 10_000, 'the first signal to be taken');
    const secondAt = Date.now();
    child.kill(signal);
    const result = await done;
    expect(result.code).toBe(code);
    expect(Date.now() - secondAt).toBeLessThan(3_500);
    if (signal === 'SIGTERM') expect(result.stderr).not.toContain('Ctrl-C');
    await waitFor(() => !isAlive(readPid(pidFile) ?? 0), 2_000, 'the stubborn step to die');
  });

  it('fail-fast cancels the other legs within 2 s of the failure', async () => {
    const file = ws.write(
      'failfast.yml',
      `jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        leg: [a, b, c]
    steps:
      - run: |
          if [ "\${{ matrix.leg }}" = b ]; then sleep 0.5; exit 1; fi
          sleep 10
`,
    );
    const started = Date.now();
    const result = await ws.run(['run', file, '--json', '--jobs', '3']);
    expect(result.code).toBe(1);
    expect(statuses(result.stdout)).toEqual({
      'test (a)': 'cancelled',
      'test (b)': 'failed',
      'test (c)': 'cancelled',
    });
    expect(Date.now() - started).toBeLessThan(0.5 * 1000 + 2_000 + 1_500);
    const failedAt = summary(result.stdout).jobs.find((job) => job.name === 'test (b)')?.durationMs ?? 0;
    const cancelled = summary(result.stdout).jobs.filter((job) => job.status === 'cancelled');
    for (const job of cancelled) expect(job.durationMs - failedAt).toBeLessThan(2_000);
  });

  it('timeout-minutes ends a step (failure) and a job (timed_out)', async () => {
    const file = ws.write(
      'timeouts.yml',
      `jobs:
  step-timeout:
    runs-on: ubuntu-latest
    steps:
      - timeout-minutes: 0.01
        run: sleep 30
      - if: failure()
        run: echo step timed out as a failure
  job-timeout:
    runs-on: ubuntu-latest
    timeout-minutes: 0.01
    steps:
      - run: sleep 30
`,
    );
    const started = Date.now();
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(1);
    expect(statuses(result.stdout)).toEqual({ 'step-timeout': 'failed', 'job-timeout': 'timed_out' });
    expect(result.stdout).toContain('step timed out as a failure');
    // Each log says why, with the limit, as GitHub's does.
    expect(logLines(result.stdout, 'step-timeout')).toContain(
      'error: the step exceeded its timeout of 0.01 minutes (timeout-minutes)',
    );
    expect(logLines(result.stdout, 'job-timeout')).toContain(
      'error: the job exceeded its timeout of 0.01 minutes (timeout-minutes); its running step was stopped',
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    // The stored record says it too: the step's line and the job's reason in show, the line in logs.
    const runId = String(events(result.stdout)[0]?.runId);
    const show = (await ws.run(['show', runId])).stdout;
    expect(show).toContain('(step "Run sleep 30" timed out after 0.01 minutes)');
    expect(show).toMatch(
      /\n {6}failure {3}Run sleep 30 · timed out after 0\.01 minutes \(timeout-minutes\) \d/,
    );
    expect((await ws.run(['logs', runId, 'step-timeout'])).stdout).toContain(
      'error: the step exceeded its timeout of 0.01 minutes (timeout-minutes)',
    );
    // The timed-out job's reason names its limit too, as a failed job's names its step.
    expect(show).toContain('timed_out job-timeout');
    expect(show).toContain('(the job exceeded its timeout of 0.01 minutes (timeout-minutes))');
  });
});
