import { afterEach, describe, expect, it, vi } from 'vitest';
import { colors } from '../../../src/cli/views/format.js';
import { LineView } from '../../../src/cli/views/line-view.js';
import { TtyView } from '../../../src/cli/views/tty-view.js';
import { frameLines } from './frame-lines.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('LineView: a job that may not start yet', () => {
  it('says until when a delayed job waits, once, and nothing for a retry: the job log has its line', () => {
    const written: string[] = [];
    const view = new LineView({ write: (text) => written.push(text) }, colors(false));
    const later = Date.parse('2031-05-01T12:00:00Z');
    view.onEvent({ type: 'job.queued', jobId: '1.1', name: 'nightly', at: 1_000, notBefore: later });
    view.onEvent({ type: 'job.queued', jobId: '1.2', name: 'now', at: 1_000, notBefore: 1_000 });
    view.onEvent({
      type: 'job.retrying',
      jobId: '1.2',
      name: 'now',
      attempt: 2,
      delayMs: 5_000,
      reason: 'failed',
      at: 2_000,
    });
    view.onEvent({ type: 'job.queued', jobId: '1.2', name: 'now', at: 2_000, notBefore: 7_000 });
    // A resumed run's job found waiting out its retry's delay: no job.retrying came before it here.
    view.onEvent({
      type: 'job.queued',
      jobId: '1.3',
      name: 'flaky',
      at: 2_000,
      notBefore: later,
      attempt: 2,
    });
    view.close();
    expect(written).toEqual([
      // The retry is told by the control plane's line in the job's log, not by the view.
      // As the live view and `show` say it, in ISO 8601 UTC as every other time the CLI prints (no
      // locale's 12-hour clock), read the same in a CI log from another time zone.
      '[nightly] queued, not before 2031-05-01T12:00:00Z\n',
      '[flaky] queued as attempt 2, not before 2031-05-01T12:00:00Z\n',
    ]);
  });
});

describe('TtyView: a job that may not start yet', () => {
  it("says until when on its line, as show's job line says it", () => {
    vi.useFakeTimers();
    const written: string[] = [];
    const view = new TtyView({ write: (chunk) => written.push(chunk) }, colors(false), () => 100);
    const later = Date.parse('2031-05-01T12:00:05Z');
    view.onEvent({ type: 'job.queued', jobId: '1.1', name: 'nightly', at: 1_000, notBefore: later });
    vi.advanceTimersByTime(100);
    const lines = frameLines(written.at(-1) ?? '').map((line) => line.trimEnd());
    expect(lines).toContain('  ○ nightly  queued           not before 2031-05-01T12:00:05Z');
    view.close();
  });
});
