import { describe, expect, it } from 'vitest';
import { checkRunEvent } from '../../src/cli/run-event-check.js';
import { colors } from '../../src/cli/views/format.js';
import { LineView } from '../../src/cli/views/line-view.js';

describe('checkRunEvent', () => {
  it('accepts the events the views render', () => {
    const log = { type: 'log', jobId: 'j', job: 'build', stepIndex: 0, stream: 'stdout', text: 'hi', at: 1 };
    expect(checkRunEvent(log)).toEqual({ kind: 'event', event: log });
  });

  it("keeps a re-run's attempt on run.started, and leaves out one that is not a whole number", () => {
    const started = { type: 'run.started', runId: '7', runNumber: 5, workflow: 'ci', at: 1 };
    expect(checkRunEvent({ ...started, attempt: 2 })).toEqual({
      kind: 'event',
      event: { ...started, attempt: 2 },
    });
    for (const attempt of ['2', 2.5, null])
      expect(checkRunEvent({ ...started, attempt })).toEqual({ kind: 'event', event: started });
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

  it("keeps a job.queued's waiting detail in the shapes the views read, and leaves out what is not", () => {
    const queued = { type: 'job.queued', jobId: 'j', name: 'deploy', at: 1 };
    const detail = {
      noRunnerWith: ['gpu'],
      runnersElsewhere: [{ id: 'r1', name: 'east', replica: 'cp-b' }],
      handoff: 'pending',
    };
    expect(checkRunEvent({ ...queued, ...detail })).toEqual({
      kind: 'event',
      event: {
        ...queued,
        noRunnerWith: ['gpu'],
        runnersElsewhere: [{ name: 'east', replica: 'cp-b' }],
        handoff: 'pending',
      },
    });
    // A server's malformed detail: a label that is not a list, runners without names, an unknown
    // handoff, a time that is not a number. The job still shows queued, and the view can render it.
    const malformed = checkRunEvent({
      ...queued,
      noRunnerWith: 'gpu',
      runnersElsewhere: [{ name: 7 }],
      handoff: 'soon',
      notBefore: 'tomorrow',
    });
    expect(malformed).toEqual({ kind: 'event', event: queued });
    const partly = checkRunEvent({
      ...queued,
      noRunnerWith: ['gpu'],
      runnersElsewhere: 'east',
      handoff: 'pending',
    });
    expect(partly).toEqual({ kind: 'event', event: { ...queued, noRunnerWith: ['gpu'] } });
    // A server shutting down says so; anything but true is left out.
    expect(checkRunEvent({ ...queued, noRunnerWith: ['gpu'], serverClosing: true })).toEqual({
      kind: 'event',
      event: { ...queued, noRunnerWith: ['gpu'], serverClosing: true },
    });
    expect(checkRunEvent({ ...queued, noRunnerWith: ['gpu'], serverClosing: 'yes' })).toEqual({
      kind: 'event',
      event: { ...queued, noRunnerWith: ['gpu'] },
    });
    const written: string[] = [];
    const view = new LineView({ write: (text) => written.push(text) }, colors(false));
    for (const checked of [malformed, partly]) if (checked.kind === 'event') view.onEvent(checked.event);
    expect(written).toEqual([
      '[deploy] waiting for a runner with the label gpu: no connected runner has it\n',
    ]);
  });
});
