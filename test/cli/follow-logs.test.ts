import { describe, expect, it } from 'vitest';
import { narrowed } from '../../src/cli/follow-logs.js';
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
  it('ends with their own outcome, not the whole run’s', () => {
    expect(narrowed(completed, chosen('build'))).toEqual({
      ...completed,
      status: 'succeeded',
      jobs: [{ name: 'build', status: 'succeeded', durationMs: 400 }],
    });
    expect(narrowed(completed, chosen('lint'))).toMatchObject({ status: 'cancelled' });
    expect(narrowed(completed, chosen('build', 'test'))).toMatchObject({ status: 'failed' });
  });

  it("leaves out another job's events and keeps the chosen one's", () => {
    const step: RunEvent = { type: 'job.started', jobId: '7.test', name: 'test', at: 1 };
    expect(narrowed(step, chosen('build'))).toBeUndefined();
    expect(narrowed(step, chosen('test'))).toBe(step);
  });
});
