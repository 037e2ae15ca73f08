import { describe, expect, it } from 'vitest';
import { narrowed } from '../../src/cli/follow-logs.js';
import { colors } from '../../src/cli/views/format.js';
import { LineView } from '../../src/cli/views/line-view.js';
import type { RunEvent } from '../../src/engine/events.js';

const completed: RunEvent = {
  type: 'run.completed',
  runId: '7',
  status: 'failed',
  durationMs: 1200,
  jobs: [
    { name: 'build', status: 'succeeded', durationMs: 400 },
    { name: 'test', status: 'failed', durationMs: 700 },
    { name: 'lint', status: 'cancelled', durationMs: 100 },
  ],
};

const chosen = (...names: string[]) => ({
  ids: new Set(names.map((name) => `7.${name}`)),
  names: new Set(names),
});

describe('logs RUN JOB --follow: the run summary of the chosen jobs', () => {
  it('keeps the run’s own status and only the chosen jobs’ rows', () => {
    expect(narrowed(completed, chosen('build'))).toEqual({
      ...completed,
      jobs: [{ name: 'build', status: 'succeeded', durationMs: 400 }],
    });
  });

  it('ends with the chosen jobs’ outcome, naming them, then the run’s when it differs', () => {
    expect(lastLine(chosen('build'))).toBe('Job "build" succeeded; run 7 failed in 1.2s');
    expect(lastLine(chosen('lint'))).toBe('Job "lint" cancelled; run 7 failed in 1.2s');
    expect(lastLine(chosen('build', 'test'))).toBe('Jobs "build", "test" failed, as did run 7, in 1.2s');
    expect(lastLine(undefined)).toBe('Run failed in 1.2s');
  });

  it('quotes names, as a matrix leg’s has commas, and counts past three', () => {
    const legs = ['a', 'b', 'c', 'd', 'e'].map((os) => ({
      name: `test (18, ${os})`,
      status: 'succeeded' as const,
      durationMs: 10,
    }));
    const run: RunEvent = { ...completed, status: 'succeeded', jobs: legs };
    expect(lastLine(chosen(...legs.map((leg) => leg.name)), run)).toBe(
      'Jobs "test (18, a)", "test (18, b)", "test (18, c)" and 2 more succeeded, as did run 7, in 1.2s',
    );
  });

  it("leaves out another job's events and keeps the chosen one's", () => {
    const step: RunEvent = { type: 'job.started', jobId: '7.test', name: 'test', at: 1 };
    expect(narrowed(step, chosen('build'))).toBeUndefined();
    expect(narrowed(step, chosen('test'))).toBe(step);
  });
});

/** The last line `logs 7 [JOB] -f` prints for the run's end, as follow-logs.ts shows it. */
function lastLine(only: ReturnType<typeof chosen> | undefined, event: RunEvent = completed): string {
  let written = '';
  const view = new LineView({ write: (text: string) => (written += text) }, colors(false), {
    chosenJobs: only !== undefined,
  });
  const shown = only === undefined ? event : narrowed(event, only);
  if (shown !== undefined) view.onEvent(shown);
  return written.trimEnd().split('\n').at(-1) ?? '';
}
