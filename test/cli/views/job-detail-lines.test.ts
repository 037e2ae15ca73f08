import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { jobDetailLines, jobLine } from '../../../src/cli/views/attempts.js';
import { colors, onRunnerText } from '../../../src/cli/views/format.js';
import { asJobId, asRunId } from '../../../src/core/ids.js';
import { seriesStartedAt } from '../../../src/store/job-duration.js';
import type { JobAttemptRecord, JobRecord, StepRecord } from '../../../src/store/runs.js';

const jobId = asJobId('1.1');
const job: JobRecord = {
  id: jobId,
  runId: asRunId('1'),
  key: 'build',
  name: 'build',
  matrix: {},
  status: 'succeeded',
  outputs: {},
};
const step = (index: number, name: string, more: Partial<StepRecord>): StepRecord => ({
  jobId,
  index,
  name,
  startedAt: 1_000,
  finishedAt: 1_012,
  ...more,
});

describe("show's step lines", () => {
  it('set an exit code apart from a name that holds one, and say when continue-on-error hid a failure', () => {
    const lines = jobDetailLines(
      job,
      [],
      [
        step(0, 'Run exit 1', { outcome: 'failure', conclusion: 'failure', exitCode: 1 }),
        step(1, 'lint', { outcome: 'failure', conclusion: 'success', exitCode: 2 }),
        step(2, 'test', { outcome: 'success', conclusion: 'success', exitCode: 0 }),
        step(3, 'deploy', { outcome: 'skipped', conclusion: 'skipped' }),
      ],
      colors(false),
    );
    expect(lines.map((line) => line.trim())).toEqual([
      'failure   Run exit 1 · exit code 1 12ms',
      'success   lint · outcome failure, continued (continue-on-error) · exit code 2 12ms',
      'success   test 12ms',
      'skipped   deploy 12ms',
    ]);
  });
});

describe("show's timed-out step and retried job", () => {
  it("names the timeout that stopped a step, with the limit as the workflow's timeout-minutes set it", () => {
    const timedOut = { outcome: 'failure', conclusion: 'failure', timedOutAfterMs: 30_000 } as const;
    const lines = jobDetailLines(job, [], [step(0, 'build', timedOut)], colors(false));
    expect(lines.map((line) => line.trim())).toEqual([
      'failure   build · timed out after 0.5 minutes (timeout-minutes) 12ms',
    ]);
  });

  it("times a retried job from its first attempt's start, but not from before a re-run", () => {
    const ended = (attempt: number, startedAt: number, retried: boolean): JobAttemptRecord => ({
      jobId,
      attempt,
      status: 'failed',
      startedAt,
      finishedAt: startedAt + 10,
      ...(retried ? { retry: { delayMs: 5, reason: 'failure' } } : {}),
    });
    const current = { ...job, attempt: 3, startedAt: 500 };
    expect(seriesStartedAt(current, [ended(1, 100, true), ended(2, 300, true)])).toBe(100);
    expect(seriesStartedAt(current, [ended(1, 100, false), ended(2, 300, true)])).toBe(300);
    expect(seriesStartedAt(current, [ended(1, 100, true), ended(2, 300, false)])).toBe(500);
    expect(seriesStartedAt(current, [])).toBe(500);
  });
});

describe("show's runner of a job", () => {
  const runner = { id: '3f9a0c1d2e4b', name: 'r1' };

  it('names the runner of a running or finished attempt', () => {
    expect(onRunnerText(runner, 'running')).toBe(' on runner r1 (3f9a0c1d2e4b)');
    expect(onRunnerText(runner, 'succeeded')).toBe(' on runner r1 (3f9a0c1d2e4b)');
    expect(onRunnerText(undefined, 'queued')).toBe('');
  });

  it('says a job that waits again (its runner was lost) last ran on that runner, not that it runs there', () => {
    expect(onRunnerText(runner, 'queued')).toBe(' last ran on runner r1 (3f9a0c1d2e4b)');
    const lines = jobDetailLines(
      { ...job, status: 'queued', attempt: 2, runner },
      [{ attempt: 1, status: 'runner_lost', startedAt: 1_000, finishedAt: 1_012, runner }],
      [],
      colors(false),
    );
    expect(lines.map((line) => line.trim())).toEqual([
      'attempt 1: runner lost 12ms on runner r1 (3f9a0c1d2e4b)',
      'attempt 2: queued    last ran on runner r1 (3f9a0c1d2e4b)',
    ]);
  });

  it('says an attempt whose runner was lost (and its job requeued) ended so, not failed, nor in red', () => {
    const lost = {
      attempt: 1,
      status: 'runner_lost',
      startedAt: 1_000,
      finishedAt: 1_012,
      reason: 'runner_lost: lease expired (not renewed within 4000 ms)',
      runner,
    };
    const c = colors(true);
    const [line] = jobDetailLines({ ...job, status: 'succeeded', attempt: 2 }, [lost], [], c);
    const on = c.dim(' on runner r1 (3f9a0c1d2e4b)');
    const why = c.dim(' (runner_lost: lease expired (not renewed within 4000 ms))');
    expect(line).toBe(`    attempt 1: ${c.yellow('runner lost')} ${c.dim('12ms')}${on}${why}`);
  });
});

describe("show's job line", () => {
  it('says until when a queued job is held back (not-before, a retry delay), and only while it is', () => {
    const queued = { ...job, status: 'queued' as const, notBefore: 60_000 };
    const c = colors(false);
    expect(jobLine(queued, undefined, c, 1_000).trim()).toBe(
      '● queued    build not before 1970-01-01T00:01:00Z',
    );
    expect(jobLine(queued, undefined, c, 60_000).trim()).toBe('● queued    build');
    expect(jobLine({ ...queued, status: 'running' }, undefined, c, 1_000)).not.toContain('not before');
  });
});

describe('show lines of a job or step with no duration', () => {
  it('end without spaces and have no doubled ones, with colours or without', () => {
    const skipped = { ...job, status: 'skipped' as const };
    const never = step(1, 'Run echo never', { conclusion: 'skipped', outcome: 'skipped' });
    const { startedAt: _s, finishedAt: _f, ...unstarted } = never;
    for (const on of [false, true]) {
      const c = colors(on);
      const plain = stripVTControlCharacters;
      expect(plain(jobLine(skipped, undefined, c))).toBe('  - skipped   build');
      // No escape codes around nothing after the name: the line ends with the name's colour or none.
      expect(jobLine(skipped, undefined, c).endsWith('build')).toBe(true);
      expect(plain(jobLine({ ...skipped, reason: 'a needed job failed' }, undefined, c))).toBe(
        '  - skipped   build (a needed job failed)',
      );
      expect(jobDetailLines(skipped, [], [unstarted], c).map(plain)).toEqual([
        '      skipped   Run echo never',
      ]);
      const lines = jobDetailLines(
        { ...job, status: 'queued', attempt: 2 },
        [{ attempt: 1, status: 'failed', startedAt: 1_000, finishedAt: 1_012 }],
        [],
        c,
      );
      expect(lines.map(plain)).toEqual(['    attempt 1: failed    12ms', '    attempt 2: queued']);
    }
  });
});

describe("show's step waiting to retry", () => {
  const failed = { outcome: 'failure', conclusion: 'failure', exitCode: 3, retryDelayMs: 2_000 } as const;
  const running = { ...job, status: 'running' as const };
  const plain = (lines: string[]) => lines.map((line) => line.trim());

  it('says when its next attempt starts, as a held job says until when, and only while it waits', () => {
    const c = colors(false);
    const steps = [
      step(0, 'checkout', { outcome: 'success', conclusion: 'success' }),
      step(1, 'fetch', failed),
    ];
    expect(plain(jobDetailLines(running, [], steps, c, 2_000))).toEqual([
      'success   checkout 12ms',
      'failure   fetch · exit code 3 · retrying at 1970-01-01T00:00:03Z (attempt 2) 12ms',
    ]);
    // Its time has come (the next attempt's start is on its way), the job ended, or the next attempt started.
    expect(plain(jobDetailLines(running, [], steps, c, 3_012))[1]).toBe('failure   fetch · exit code 3 12ms');
    expect(plain(jobDetailLines({ ...job, status: 'cancelled' }, [], steps, c, 2_000))[1]).toBe(
      'failure   fetch · exit code 3 12ms',
    );
    const next = step(1, 'fetch', { attempt: 2, startedAt: 3_012, finishedAt: undefined });
    expect(plain(jobDetailLines(running, [], [...steps, next], c, 3_100)).slice(1)).toEqual([
      'failure   fetch (attempt 1) · exit code 3 12ms',
      'running   fetch (attempt 2)',
    ]);
  });

  it("counts the step's attempts, not the job's, and only in the job's current attempt", () => {
    const c = colors(false);
    const retried = { ...running, attempt: 2, startedAt: 1_000 };
    const ended = [{ attempt: 1, status: 'failed', startedAt: 1_000, finishedAt: 1_012 }];
    const again = { ...failed, jobAttempt: 2, attempt: 2 };
    const lines = jobDetailLines(
      retried,
      ended,
      [step(1, 'fetch', failed), step(1, 'fetch', again)],
      c,
      2_000,
    );
    expect(plain(lines)).toEqual([
      'attempt 1: failed    12ms',
      'failure   fetch · exit code 3 12ms',
      'attempt 2: running',
      'failure   fetch (attempt 2) · exit code 3 · retrying at 1970-01-01T00:00:03Z (attempt 3) 12ms',
    ]);
  });
});

describe("show's retried step: its attempts in all", () => {
  const failed = { outcome: 'failure', conclusion: 'failure', exitCode: 3, maxAttempts: 3 } as const;
  const running = { ...job, status: 'running' as const };
  const plain = (lines: string[]) => lines.map((line) => line.trim());

  it('numbers each attempt of M, the running one too (from the ended ones), and the next one it waits for', () => {
    const c = colors(false);
    const first = step(0, 'fetch', { ...failed, retryDelayMs: 2_000 });
    expect(plain(jobDetailLines(running, [], [first], c, 2_000))).toEqual([
      'failure   fetch · exit code 3 · retrying at 1970-01-01T00:00:03Z (attempt 2 of 3) 12ms',
    ]);
    // The record of a running attempt has no total yet (the runner reports it with the attempt's end).
    const second = step(0, 'fetch', { attempt: 2, startedAt: 3_012, finishedAt: undefined });
    expect(plain(jobDetailLines(running, [], [first, second], c, 3_100))).toEqual([
      'failure   fetch (attempt 1 of 3) · exit code 3 12ms',
      'running   fetch (attempt 2 of 3)',
    ]);
  });

  it("keeps today's wording for the steps of a runner older than the total", () => {
    const { maxAttempts: _none, ...older } = failed;
    const lines = jobDetailLines(
      job,
      [],
      [step(0, 'fetch', older), step(0, 'fetch', { ...older, attempt: 2 })],
      colors(false),
    );
    expect(plain(lines)).toEqual([
      'failure   fetch (attempt 1) · exit code 3 12ms',
      'failure   fetch (attempt 2) · exit code 3 12ms',
    ]);
  });
});
