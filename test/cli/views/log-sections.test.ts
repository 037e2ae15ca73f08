import { describe, expect, it } from 'vitest';
import {
  type AttemptedLine,
  type LoggedStep,
  logLinesWithHeadings,
  outcomeText,
} from '../../../src/cli/views/log-sections.js';

const line = (jobId: string, text: string, jobAttempt = 1, stepIndex = 0, attempt = 1): AttemptedLine => ({
  jobId,
  stepIndex,
  text,
  ...(jobAttempt === 1 ? {} : { jobAttempt }),
  ...(attempt === 1 ? {} : { attempt }),
});

const step = (jobId: string, index: number, name: string, more: Partial<LoggedStep> = {}): LoggedStep => ({
  jobId,
  index,
  name,
  conclusion: 'success',
  outcome: 'success',
  ...more,
});

/** What `valkyrie logs` prints: entries' texts, each job's prefixed when there are several. */
function shown(
  lines: readonly AttemptedLine[],
  jobs: { id: string; attempts: number }[],
  steps: readonly LoggedStep[] = [],
): string[] {
  return logLinesWithHeadings(lines, steps, jobs).map(
    (entry) => `${jobs.length > 1 ? `[${entry.jobId}] ` : ''}${entry.heading ?? entry.line?.text}`,
  );
}

describe('logLinesWithHeadings', () => {
  it('heads each step, then its outcome, also of a step that printed nothing or was skipped', () => {
    const steps = [
      step('c', 0, 'greet', { startedAt: 0, finishedAt: 69 }),
      step('c', 1, 'Run ./quiet.sh'),
      step('c', 2, 'Run ./fail.sh', { outcome: 'failure', conclusion: 'failure', exitCode: 3 }),
      step('c', 3, 'Run echo never', { outcome: 'skipped', conclusion: 'skipped' }),
    ];
    const lines = [line('c', 'hello'), line('c', 'about to fail', 1, 2)];
    expect(shown(lines, [{ id: 'c', attempts: 1 }], steps)).toEqual([
      '▶ greet',
      'hello',
      '✓ succeeded in 69ms',
      '▶ Run ./quiet.sh',
      '✓ succeeded',
      '▶ Run ./fail.sh',
      'about to fail',
      '✗ failed (exit code 3)',
      '▶ Run echo never',
      '- skipped',
    ]);
  });

  it("places a job's own line after the steps that had ended when it was written", () => {
    const steps = [
      step('c', 0, 'first', { startedAt: 10, finishedAt: 20 }),
      step('c', 1, 'second', {
        startedAt: 20,
        finishedAt: 30,
        conclusion: 'cancelled',
        outcome: 'cancelled',
      }),
    ];
    const lines = [
      { ...line('c', 'running on runner r1', 1, -1), at: 5 },
      { ...line('c', 'one'), at: 15 },
      { ...line('c', 'two', 1, 1), at: 25 },
      { ...line('c', 'cancelling the job: asked to', 1, -1), at: 26 },
      { ...line('c', 'trap ran', 1, 1), at: 27 },
    ];
    expect(shown(lines, [{ id: 'c', attempts: 1 }], steps)).toEqual([
      'running on runner r1',
      '▶ first',
      'one',
      '✓ succeeded in 10ms',
      '▶ second',
      'two',
      'cancelling the job: asked to',
      'trap ran',
      '⊘ cancelled in 10ms',
    ]);
  });

  it("heads a step that was running, and had printed nothing, before a job's line written meanwhile", () => {
    const steps = [
      step('c', 0, 'Run sleep 120', {
        startedAt: 10,
        finishedAt: 40,
        conclusion: 'cancelled',
        outcome: 'cancelled',
      }),
      step('c', 0, 'Run sleep 120', { jobAttempt: 2, startedAt: 50, finishedAt: 60 }),
    ];
    const lines = [
      { ...line('c', 'running on runner r1', 1, -1), at: 10 },
      { ...line('c', 'runner r1 disconnected; waiting up to 30s for it to come back', 1, -1), at: 20 },
      { ...line('c', 'attempt 1 ended (runner_lost: …); requeued as attempt 2', 1, -1), at: 40 },
      { ...line('c', 'running on runner r2', 2, -1), at: 45 },
    ];
    expect(shown(lines, [{ id: 'c', attempts: 2 }], steps)).toEqual([
      '── job attempt 1 ──',
      'running on runner r1',
      '▶ Run sleep 120',
      'runner r1 disconnected; waiting up to 30s for it to come back',
      '⊘ cancelled in 30ms',
      'attempt 1 ended (runner_lost: …); requeued as attempt 2',
      '── job attempt 2 ──',
      'running on runner r2',
      '▶ Run sleep 120',
      '✓ succeeded in 10ms',
    ]);
  });

  it('heads every attempt of a job that ran more than once, also one that printed nothing', () => {
    expect(shown([line('c', 'c-fails', 1, -1)], [{ id: 'c', attempts: 2 }])).toEqual([
      '── job attempt 1 ──',
      'c-fails',
      '── job attempt 2 ──',
    ]);
    expect(shown([line('c', 'third', 3, -1)], [{ id: 'c', attempts: 3 }])).toEqual([
      '── job attempt 1 ──',
      '── job attempt 2 ──',
      '── job attempt 3 ──',
      'third',
    ]);
    const steps = [step('c', 0, 'build', { conclusion: 'failure', outcome: 'failure', exitCode: 1 })];
    const retried = [...steps, { ...steps[0], jobAttempt: 2, conclusion: 'success' } as LoggedStep];
    expect(shown([], [{ id: 'c', attempts: 2 }], retried)).toEqual([
      '── job attempt 1 ──',
      '▶ build',
      '✗ failed (exit code 1)',
      '── job attempt 2 ──',
      '▶ build',
      '✗ failed (exit code 1), continued (continue-on-error)',
    ]);
  });

  it('gives a job that ran once no attempt heading, and sections each job of several on its own', () => {
    expect(shown([line('c', 'once')], [{ id: 'c', attempts: 1 }])).toEqual(['once']);
    const lines = [line('a', 'a1'), line('b', 'b1'), line('a', 'a2', 2)];
    const steps = [step('a', 0, 'A'), step('b', 0, 'B'), step('a', 0, 'A', { jobAttempt: 2 })];
    const jobs = [
      { id: 'a', attempts: 2 },
      { id: 'b', attempts: 1 },
    ];
    expect(shown(lines, jobs, steps)).toEqual([
      '[a] ── job attempt 1 ──',
      '[a] ▶ A',
      '[a] a1',
      '[b] ▶ B',
      '[b] b1',
      '[a] ✓ succeeded',
      '[a] ── job attempt 2 ──',
      '[a] ▶ A',
      '[a] a2',
      '[a] ✓ succeeded',
      '[b] ✓ succeeded',
    ]);
  });

  it("shows a job's step outcomes where they happened among another job's lines, not at the log's end", () => {
    // b needs a: its lines come after a's last step ended; c runs beside b.
    const steps = [
      step('a', 0, 'a0', { startedAt: 10, finishedAt: 20 }),
      step('a', 1, 'a1', { startedAt: 20, finishedAt: 30 }),
      step('a', 2, 'quiet', { startedAt: 30, finishedAt: 35 }),
      step('b', 0, 'b0', { startedAt: 40, finishedAt: 50 }),
      step('c', 0, 'c0', { startedAt: 40, finishedAt: 60 }),
    ];
    const lines = [
      { ...line('a', 'one'), at: 15 },
      { ...line('a', 'two', 1, 1), at: 30 },
      { ...line('b', 'three'), at: 45 },
      { ...line('c', 'four'), at: 45 },
      // Written in the millisecond b's step ended: c's step, running still, is left open.
      { ...line('c', 'five'), at: 50 },
    ];
    const jobs = ['a', 'b', 'c'].map((id) => ({ id, attempts: 1 }));
    expect(shown(lines, jobs, steps)).toEqual([
      '[a] ▶ a0',
      '[a] one',
      '[a] ✓ succeeded in 10ms',
      '[a] ▶ a1',
      '[a] two',
      '[a] ✓ succeeded in 10ms',
      '[a] ▶ quiet',
      '[a] ✓ succeeded in 5ms',
      '[b] ▶ b0',
      '[b] three',
      '[c] ▶ c0',
      '[c] four',
      '[c] five',
      '[b] ✓ succeeded in 10ms',
      '[c] ✓ succeeded in 20ms',
    ]);
  });

  it("heads each step once, the control plane's lines where it stored them, when it stored the lines resent after its own", () => {
    // The store's order after `kill -KILL` of the server mid-step and a restart: the runner's report
    // journal resent a 4..second, with the times they were written, after the control plane's lines.
    // `logs --follow` told them in that order as they came; the step still gets one heading.
    const steps = [
      step('c', 0, 'Run for i in 1 2 3 4 5 6', { startedAt: 66_204, finishedAt: 72_301 }),
      step('c', 1, 'Run echo second', { startedAt: 72_302, finishedAt: 72_310 }),
    ];
    const lines = [
      { ...line('c', 'running on runner vm', 1, -1), at: 66_177 },
      { ...line('c', 'a 1'), at: 66_244 },
      { ...line('c', 'a 2'), at: 67_246 },
      { ...line('c', 'a 3'), at: 68_273 },
      { ...line('c', 'the control plane that ran this job stopped; waiting', 1, -1), at: 77_396 },
      { ...line('c', 'runner vm reconnected and resumed the job', 1, -1), at: 80_907 },
      { ...line('c', 'a 4'), at: 69_278 },
      { ...line('c', 'a 5'), at: 70_285 },
      { ...line('c', 'a 6'), at: 71_291 },
      { ...line('c', 'second', 1, 1), at: 72_309 },
    ];
    expect(shown(lines, [{ id: 'c', attempts: 1 }], steps)).toEqual([
      'running on runner vm',
      '▶ Run for i in 1 2 3 4 5 6',
      'a 1',
      'a 2',
      'a 3',
      'the control plane that ran this job stopped; waiting',
      'runner vm reconnected and resumed the job',
      'a 4',
      'a 5',
      'a 6',
      '✓ succeeded in 6.1s',
      '▶ Run echo second',
      'second',
      '✓ succeeded in 8ms',
    ]);
  });

  it('heads a step once when all its lines came again after a takeover, though it had ended by then', () => {
    // The server was killed after it stored the step's start, before its lines; the runner's step
    // ended while no server was up, and its lines came again to the one that took the run over.
    const steps = [
      step('c', 0, 'one', { startedAt: 110, finishedAt: 150 }),
      step('c', 1, 'two', { startedAt: 160, finishedAt: 4_200 }),
    ];
    const lines = [
      { ...line('c', 'running on runner vm', 1, -1), at: 100 },
      { ...line('c', 'one-a'), at: 120 },
      { ...line('c', 'the control plane that ran this job stopped; waiting', 1, -1), at: 5_000 },
      { ...line('c', 'runner vm reconnected and resumed the job', 1, -1), at: 5_100 },
      { ...line('c', 'two-a', 1, 1), at: 170 },
      { ...line('c', 'two-b', 1, 1), at: 4_170 },
    ];
    expect(shown(lines, [{ id: 'c', attempts: 1 }], steps)).toEqual([
      'running on runner vm',
      '▶ one',
      'one-a',
      '✓ succeeded in 40ms',
      '▶ two',
      'the control plane that ran this job stopped; waiting',
      'runner vm reconnected and resumed the job',
      'two-a',
      'two-b',
      '✓ succeeded in 4.0s',
    ]);
  });

  it("keeps a job's line that starts it or an attempt first, from a runner whose clock is behind", () => {
    const steps = [step('c', 0, 'first'), step('c', 0, 'first', { jobAttempt: 2 })];
    const lines = [
      { ...line('c', 'running on runner r1', 1, -1), at: 5 },
      { ...line('c', 'one'), at: 4 },
      { ...line('c', 'requeued; running on runner r2', 2, -1), at: 35 },
      { ...line('c', 'two', 2), at: 34 },
    ];
    expect(shown(lines, [{ id: 'c', attempts: 2 }], steps)).toEqual([
      '── job attempt 1 ──',
      'running on runner r1',
      '▶ first',
      'one',
      '✓ succeeded',
      '── job attempt 2 ──',
      'requeued; running on runner r2',
      '▶ first',
      'two',
      '✓ succeeded',
    ]);
  });

  it("numbers a retried step's attempts, also one that printed nothing", () => {
    const failed = { outcome: 'failure', conclusion: 'failure', exitCode: 1 };
    const steps = [
      step('c', 0, 'Run ./flaky.sh', failed),
      step('c', 0, 'Run ./flaky.sh', { ...failed, attempt: 2 }),
      step('c', 0, 'Run ./flaky.sh', { attempt: 3 }),
    ];
    const lines = [line('c', 'try 1'), line('c', 'try 3', 1, 0, 3)];
    expect(shown(lines, [{ id: 'c', attempts: 1 }], steps)).toEqual([
      '▶ Run ./flaky.sh (attempt 1)',
      'try 1',
      '✗ failed (exit code 1)',
      '▶ Run ./flaky.sh (attempt 2)',
      '✗ failed (exit code 1)',
      '▶ Run ./flaky.sh (attempt 3)',
      'try 3',
      '✓ succeeded',
    ]);
  });

  it("heads each attempt of a retried step with the attempts in all, one recorded without it (running) by the others'", () => {
    const failed = { outcome: 'failure', conclusion: 'failure', exitCode: 1, maxAttempts: 3 };
    const steps = [step('c', 0, 'Run ./flaky.sh', failed), step('c', 0, 'Run ./flaky.sh', { attempt: 2 })];
    const lines = [line('c', 'try 1'), line('c', 'try 2', 1, 0, 2)];
    expect(shown(lines, [{ id: 'c', attempts: 1 }], steps)).toEqual([
      '▶ Run ./flaky.sh (attempt 1 of 3)',
      'try 1',
      '✗ failed (exit code 1)',
      '▶ Run ./flaky.sh (attempt 2 of 3)',
      'try 2',
      '✓ succeeded',
    ]);
  });
});

describe('outcomeText', () => {
  it('says how a step ended, and nothing while it runs', () => {
    expect(outcomeText(step('c', 0, 'x', { conclusion: undefined, outcome: undefined }))).toBeUndefined();
    expect(
      outcomeText(step('c', 0, 'x', { outcome: 'failure', conclusion: 'failure', timedOutAfterMs: 60_000 })),
    ).toBe('✗ timed out after 1 minute (timeout-minutes)');
  });
});
