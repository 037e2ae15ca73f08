import { afterEach, describe, expect, it, vi } from 'vitest';
import { colors } from '../../../src/cli/views/format.js';
import { LineView } from '../../../src/cli/views/line-view.js';
import { TtyView } from '../../../src/cli/views/tty-view.js';
import type { RunEvent } from '../../../src/engine/events.js';
import type { StepReport } from '../../../src/protocol/messages.js';
import { frameLines } from './frame-lines.js';

afterEach(() => {
  vi.useRealTimers();
});

const started = (attempt: number): RunEvent => ({
  type: 'step.started',
  jobId: '1.1',
  job: 'build',
  index: 0,
  step: 'flaky',
  at: attempt,
  ...(attempt === 1 ? {} : { attempt }),
});

/** An attempt that failed and that another follows; `maxAttempts` as the runner reported it, if it did. */
const retried = (attempt: number, maxAttempts?: number): RunEvent => {
  const step: StepReport = {
    index: 0,
    name: 'flaky',
    outcome: 'failure',
    conclusion: 'failure',
    exitCode: 3,
    finishedAt: attempt,
    attempt,
    retryDelayMs: 200,
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
  };
  return { type: 'step.completed', jobId: '1.1', job: 'build', step };
};

/** Attempts 1 and 2 of a step, as a runner that reports `maxAttempts` (or, undefined, an older one) tells them. */
const twoAttempts = (maxAttempts?: number) => [started(1), retried(1, maxAttempts), started(2)];

describe('the live views: a later attempt of a retried step', () => {
  it('LineView heads it with its number and the attempts in all, as the runner says it failed', () => {
    const written: string[] = [];
    const view = new LineView({ write: (text) => written.push(text) }, colors(false));
    for (const event of twoAttempts(3)) view.onEvent(event);
    view.close();
    expect(written).toEqual(['[build] ▶ flaky\n', '[build] ▶ flaky (attempt 2 of 3)\n']);
  });

  it('LineView keeps the heading it had when an older runner reports no attempts in all', () => {
    const written: string[] = [];
    const view = new LineView({ write: (text) => written.push(text) }, colors(false));
    for (const event of twoAttempts()) view.onEvent(event);
    view.close();
    expect(written).toEqual(['[build] ▶ flaky\n', '[build] ▶ flaky\n']);
  });

  it("TtyView names it so on the job's line, and the step alone from an older runner", () => {
    const lineOf = (maxAttempts?: number) => {
      vi.useFakeTimers();
      const written: string[] = [];
      const view = new TtyView({ write: (chunk) => written.push(chunk) }, colors(false), () => 80);
      view.onEvent({ type: 'job.started', jobId: '1.1', name: 'build', at: 1 });
      for (const event of twoAttempts(maxAttempts)) view.onEvent(event);
      vi.advanceTimersByTime(100);
      view.close();
      return frameLines(written.at(-1) ?? '')[1];
    };
    expect(lineOf(3)).toMatch(/ running .* flaky \(attempt 2 of 3\)$/);
    expect(lineOf()).toMatch(/ running .* flaky$/);
  });
});
