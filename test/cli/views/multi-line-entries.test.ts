import { describe, expect, it } from 'vitest';
import { colors } from '../../../src/cli/views/format.js';
import { LineView } from '../../../src/cli/views/line-view.js';
import { TtyView } from '../../../src/cli/views/tty-view.js';

/** `::error::line1%0Aline2` is one log entry of two lines. */
const text = 'error: line1\nline2 100%';

describe('a log entry of several lines (a multi-line annotation)', () => {
  it('is shown by LineView with the [job] prefix on each line', () => {
    const written: string[] = [];
    const view = new LineView({ write: (chunk) => written.push(chunk) }, colors(false));
    view.onEvent({ type: 'log', jobId: '1.1', job: 'a', stepIndex: 0, stream: 'system', text, at: 1 });
    view.close();
    expect(written.join('')).toBe('[a] error: line1\n[a] line2 100%\n');
  });

  it("is shown by TtyView's failure tail as that many indented lines", () => {
    const written: string[] = [];
    const view = new TtyView({ write: (chunk) => written.push(chunk) }, colors(false), () => 80);
    view.onEvent({ type: 'job.started', jobId: '1.1', name: 'a', at: 1 });
    view.onEvent({ type: 'log', jobId: '1.1', job: 'a', stepIndex: 0, stream: 'system', text, at: 2 });
    view.onEvent({ type: 'job.completed', jobId: '1.1', name: 'a', status: 'failed', durationMs: 5, at: 6 });
    view.onEvent({
      type: 'run.completed',
      runId: '1',
      status: 'failed',
      durationMs: 5,
      jobs: [{ name: 'a', status: 'failed', durationMs: 5 }],
    });
    view.close();
    expect(written.join('')).toContain('── a (failed) ── its last 2 lines\n  error: line1\n  line2 100%\n');
  });
});
