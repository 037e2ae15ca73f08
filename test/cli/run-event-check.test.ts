import { describe, expect, it } from 'vitest';
import { checkRunEvent } from '../../src/cli/run-event-check.js';

describe('checkRunEvent', () => {
  it('accepts the events the views render', () => {
    const log = { type: 'log', jobId: 'j', job: 'build', stepIndex: 0, stream: 'stdout', text: 'hi', at: 1 };
    expect(checkRunEvent(log)).toEqual({ kind: 'event', event: log });
  });

  it('skips kinds a newer server may send', () => {
    expect(checkRunEvent({ type: 'run.annotated', note: 'x' })).toEqual({ kind: 'unknown' });
  });

  it('names what a known event lacks', () => {
    expect(checkRunEvent({ type: 'job.completed', jobId: 'j', name: 'b', status: 'failed', at: 1 })).toEqual({
      kind: 'invalid',
      reason: 'job.completed without "durationMs" (number)',
    });
    expect(
      checkRunEvent({ type: 'step.completed', jobId: 'j', job: 'b', step: { name: 's' } }),
    ).toMatchObject({
      reason: 'step.completed without step."outcome" (string)',
    });
    const completed = {
      type: 'run.completed',
      runId: 'r',
      status: 'failed',
      durationMs: 1,
      jobs: [{ name: 'b' }],
    };
    expect(checkRunEvent(completed)).toMatchObject({ kind: 'invalid' });
    expect(checkRunEvent('not an object')).toEqual({ kind: 'invalid', reason: 'no "type"' });
  });
});
