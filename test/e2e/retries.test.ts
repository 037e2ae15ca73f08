import { afterAll, describe, expect, it } from 'vitest';
import { formatDuration } from '../../src/cli/views/format.js';
import type { JobAttemptRecord, JobRecord } from '../../src/store/runs.js';
import { events, logLines, statuses, Workspace } from './cli.js';

/** A script that fails until it has run `succeedOn` times, counting in a file of the workspace. */
const flaky = (counter: string, succeedOn: number, failWith = 1) =>
  `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}
          echo "try $n"
          if [ $n -lt ${succeedOn} ]; then exit ${failWith}; fi`;

/** `valkyrie logs` output's lines, without its durations (`✓ succeeded in 25ms`: `✓ succeeded`). */
const untimed = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (/^[✓✗⊘] /.test(line) ? line.replace(/ in \d[\d.]*(ms|s|m\d+s)$/, '') : line));

describe('retry: with the real CLI', () => {
  const ws = new Workspace();
  afterAll(() => ws.dispose());

  it('runs a step that fails twice a third time, and show and logs tell every attempt', async () => {
    const file = ws.write(
      'step-retry.yml',
      `jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: flaky
        name: flaky step
        run: |
          ${flaky('step-count', 3)}
        retry: {max-attempts: 3, delay: 10ms}
      - run: echo "outcome=\${{ steps.flaky.outcome }}"
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({ build: 'succeeded' });
    expect(logLines(result.stdout, 'build').filter((line) => !line.startsWith('attempt'))).toEqual([
      'try 1',
      'try 2',
      'try 3',
      'outcome=success',
    ]);
    const attempts = events(result.stdout)
      .filter((event) => event.type === 'step.completed')
      .map((event) => event.step as { name: string; attempt: number; outcome: string; maxAttempts?: number });
    // The runner reports the attempts in all of a step with retry: only, with each attempt.
    expect(attempts.map((step) => [step.name, step.attempt, step.outcome, step.maxAttempts])).toEqual([
      ['flaky step', 1, 'failure', 3],
      ['flaky step', 2, 'failure', 3],
      ['flaky step', 3, 'success', 3],
      ['Run echo "outcome=success"', 1, 'success', undefined],
    ]);

    const runId = String(events(result.stdout)[0]?.runId);
    const show = await ws.run(['show', runId]);
    expect(show.code).toBe(0);
    const stepLines = show.stdout.split('\n').filter((line) => line.includes('flaky step'));
    expect(stepLines.map((line) => line.trim().replace(/ \d+(ms|\.\ds)$/, ''))).toEqual([
      'failure   flaky step (attempt 1 of 3) · exit code 1',
      'failure   flaky step (attempt 2 of 3) · exit code 1',
      'success   flaky step (attempt 3 of 3)',
    ]);
    const json = JSON.parse((await ws.run(['show', runId, '--json'])).stdout) as {
      jobs: { steps: { name: string; attempt?: number; maxAttempts?: number }[] }[];
    };
    expect(json.jobs[0]?.steps.map((step) => [step.attempt ?? 1, step.maxAttempts])).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
      [1, undefined],
    ]);

    const logs = await ws.run(['logs', runId, 'build']);
    expect(untimed(logs.stdout).filter((line) => !line.startsWith('attempt'))).toEqual([
      '▶ flaky step (attempt 1 of 3)',
      'try 1',
      '✗ failed (exit code 1)',
      '▶ flaky step (attempt 2 of 3)',
      'try 2',
      '✗ failed (exit code 1)',
      '▶ flaky step (attempt 3 of 3)',
      'try 3',
      '✓ succeeded',
      '▶ Run echo "outcome=success"',
      'outcome=success',
      '✓ succeeded',
    ]);
  });

  it('prints each later attempt of a retried step under its number and the attempts in all, as it runs', async () => {
    const file = ws.write(
      'live-retry.yml',
      `jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: flaky
        run: |
          ${flaky('live-count', 3, 3)}
        retry: {max-attempts: 3, delay: 10ms, backoff: fixed}
`,
    );
    // Not a terminal: the line view.
    const result = await ws.run(['run', file]);
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n').filter((line) => line.startsWith('[build] '));
    expect(lines.filter((line) => line.includes('▶') || line.includes('attempt'))).toEqual([
      '[build] ▶ flaky',
      '[build] attempt 1 of 3 failed (exit code 3); retrying in 10ms',
      '[build] ▶ flaky (attempt 2 of 3)',
      '[build] attempt 2 of 3 failed (exit code 3); retrying in 10ms',
      '[build] ▶ flaky (attempt 3 of 3)',
    ]);
  });

  it('runs a failed job again as a new attempt; dependants wait for it; show lists the attempts', async () => {
    const file = ws.write(
      'job-retry.yml',
      `jobs:
  flaky:
    runs-on: ubuntu-latest
    retry: {max-attempts: 3, delay: 10ms, backoff: fixed}
    outputs:
      tries: \${{ steps.count.outputs.tries }}
    steps:
      - run: echo setting up
      - id: count
        run: |
          ${flaky('job-count', 3, 4)}
          echo "tries=$n" >> "$GITHUB_OUTPUT"
  after:
    needs: flaky
    runs-on: ubuntu-latest
    steps:
      - run: echo "after \${{ needs.flaky.result }} with \${{ needs.flaky.outputs.tries }} tries"
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    expect(statuses(result.stdout)).toEqual({ flaky: 'succeeded', after: 'succeeded' });
    expect(logLines(result.stdout, 'after')).toEqual(['after success with 3 tries']);
    const retrying = events(result.stdout).filter((event) => event.type === 'job.retrying');
    expect(retrying.map((event) => [event.name, event.attempt, event.delayMs])).toEqual([
      ['flaky', 2, 10],
      ['flaky', 3, 10],
    ]);
    expect(String(retrying[0]?.reason)).toContain('exit code 4');
    // The dependant starts only after the final attempt has succeeded.
    const order = events(result.stdout)
      .filter((event) => event.type === 'job.retrying' || event.type === 'job.started')
      .map((event) => `${event.type}:${event.name}`);
    expect(order.indexOf('job.started:after')).toBeGreaterThan(order.lastIndexOf('job.retrying:flaky'));

    const runId = String(events(result.stdout)[0]?.runId);
    const show = await ws.run(['show', runId]);
    const attemptLines = show.stdout
      .split('\n')
      .filter((line) => line.trim().startsWith('attempt '))
      .map((line) => line.trim().split(/\s+/).slice(0, 3).join(' '));
    expect(attemptLines).toEqual(['attempt 1: failed', 'attempt 2: failed', 'attempt 3: succeeded']);
    // The job's duration is its wall time from its first attempt's start; each attempt's is its own.
    const json = JSON.parse((await ws.run(['show', runId, '--json'])).stdout) as {
      jobs: (JobRecord & { attempts: JobAttemptRecord[] })[];
    };
    const flakyJob = json.jobs.find((job) => job.name === 'flaky');
    const first = flakyJob?.attempts[0]?.startedAt ?? Number.NaN;
    const last = flakyJob?.startedAt ?? Number.NaN;
    const end = flakyJob?.finishedAt ?? Number.NaN;
    expect(last - first).toBeGreaterThanOrEqual(20);
    const jobLine = show.stdout.split('\n').find((line) => line.includes('succeeded flaky'));
    expect(jobLine?.trim()).toBe(`✓ succeeded flaky ${formatDuration(end - first)}`);
    const lastAttempt = show.stdout.split('\n').find((line) => line.includes('attempt 3:'));
    expect(lastAttempt?.trim()).toBe(`attempt 3: succeeded ${formatDuration(end - last)}`);
    // The stored log says why each attempt was retried, and after how long, as a step's retry does.
    const logs = await ws.run(['logs', runId, 'flaky']);
    const counter = 'Run n=$(cat job-count 2>/dev/null || echo 0); n=$((n+1)); echo $n > job-count';
    const attempt = (n: number, end: string) => [
      `── job attempt ${n} ──`,
      '▶ Run echo setting up',
      'setting up',
      '✓ succeeded',
      `▶ ${counter}`,
      `try ${n}`,
      end,
    ];
    const retryLine = (n: number) =>
      `attempt ${n} of 3 failed (step "${counter}" failed with exit code 4); retrying in 10ms`;
    expect(untimed(logs.stdout)).toEqual([
      ...attempt(1, '✗ failed (exit code 4)'),
      retryLine(1),
      ...attempt(2, '✗ failed (exit code 4)'),
      retryLine(2),
      ...attempt(3, '✓ succeeded'),
    ]);
  });

  it('logs heads a succeeded attempt that printed nothing after the failed one that printed', async () => {
    const file = ws.write(
      'quiet-retry.yml',
      `jobs:
  c:
    runs-on: ubuntu-latest
    retry: {max-attempts: 2, delay: 10ms}
    steps:
      - run: |
          if [ ! -e quiet-count ]; then touch quiet-count; echo c-fails; exit 1; fi
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(statuses(result.stdout)).toEqual({ c: 'succeeded' });
    const runId = String(events(result.stdout)[0]?.runId);
    const logs = await ws.run(['logs', runId, 'c']);
    const name = 'Run if [ ! -e quiet-count ]; then touch quiet-count; echo c-fails; exit 1; fi';
    const retrying = `attempt 1 of 2 failed (step "${name}" failed with exit code 1); retrying in 10ms`;
    expect(untimed(logs.stdout)).toEqual([
      '── job attempt 1 ──',
      `▶ ${name}`,
      'c-fails',
      '✗ failed (exit code 1)',
      retrying,
      '── job attempt 2 ──',
      `▶ ${name}`,
      '✓ succeeded',
    ]);
    // --raw: only what was printed, no headings or outcomes.
    const raw = await ws.run(['logs', runId, 'c', '--raw']);
    expect(raw.stdout).toBe(`c-fails\n${retrying}\n`);
  });

  it('with when: exit-codes [3], retries exit code 3 but not exit code 1', async () => {
    const file = ws.write(
      'exit-codes.yml',
      `jobs:
  three:
    runs-on: ubuntu-latest
    steps:
      - run: |
          ${flaky('three-count', 2, 3)}
        retry: {max-attempts: 3, delay: 10ms, when: [{exit-codes: [3]}]}
  one:
    runs-on: ubuntu-latest
    steps:
      - run: |
          ${flaky('one-count', 2, 1)}
        retry: {max-attempts: 3, delay: 10ms, when: [{exit-codes: [3]}]}
`,
    );
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).not.toBe(0);
    expect(statuses(result.stdout)).toEqual({ three: 'succeeded', one: 'failed' });
    expect(logLines(result.stdout, 'three').filter((line) => line.startsWith('try'))).toEqual([
      'try 1',
      'try 2',
    ]);
    expect(logLines(result.stdout, 'one')).toEqual(['try 1']);
  });

  it('refuses a workflow with a bad retry value before running anything', async () => {
    const file = ws.write(
      'bad-retry.yml',
      `jobs:
  a:
    runs-on: ubuntu-latest
    retry: {delay: soon}
    steps: [{ run: echo never }]
`,
    );
    const result = await ws.run(['run', file]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('bad-retry.yml:4:20');
    expect(result.stderr).toContain('retry.delay must be a duration');
    expect(result.stdout).not.toContain('never');
  });
});
