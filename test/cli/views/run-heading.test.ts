import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ApiRunDetail } from '../../../src/cli/run-answer.js';
import { colors, runHeading } from '../../../src/cli/views/format.js';
import { LineView } from '../../../src/cli/views/line-view.js';
import { runDetailLines } from '../../../src/cli/views/run-detail.js';
import { TtyView } from '../../../src/cli/views/tty-view.js';
import type { RunEvent } from '../../../src/engine/events.js';
import { frameLines } from './frame-lines.js';

afterEach(() => {
  vi.useRealTimers();
});

// A workflow name with a control character: every heading prints it escaped, the same way.
const workflow = 'sl\u001bow';
const started: RunEvent = { type: 'run.started', runId: '7', runNumber: 5, workflow, at: 1_000 };

function shown(attempt: number): ApiRunDetail {
  const times = { createdAt: 1_000, startedAt: 1_000, finishedAt: 4_100 };
  return { id: '7', runNumber: 5, workflowName: workflow, status: 'succeeded', attempt, ...times, jobs: [] };
}

function lineViewHeading(event: RunEvent = started): string | undefined {
  const written: string[] = [];
  const view = new LineView({ write: (text) => written.push(text) }, colors(false));
  view.onEvent(event);
  return written[0];
}

/** The first line of the live block a TtyView draws after the run started. */
function ttyViewHeading(event: RunEvent = started): string | undefined {
  vi.useFakeTimers();
  const written: string[] = [];
  const view = new TtyView({ write: (chunk) => written.push(chunk) }, colors(false), () => 80);
  view.onEvent(event);
  vi.advanceTimersByTime(100);
  const frame = written.at(-1) ?? '';
  return frameLines(frame)[0];
}

describe("a run's heading", () => {
  it('is the same in the live views (run, submit --follow, logs -f) as in show', () => {
    const heading = 'Run 7 of sl\\x1bow (#5)';
    expect(lineViewHeading()).toBe(`${heading}\n`);
    expect(ttyViewHeading()).toBe(heading);
    expect(runDetailLines(shown(1), colors(false))[0]).toBe(`${heading}: succeeded 3.1s`);
  });

  it("names a re-run's attempt, as show prints it", () => {
    const heading = runHeading({ id: '7', runNumber: 5, workflowName: workflow, attempt: 2 });
    expect(heading).toBe('Run 7 of sl\\x1bow (#5, attempt 2)');
    expect(runDetailLines(shown(2), colors(false))[0]).toBe(`${heading}: succeeded 3.1s`);
    // Followed live (rerun --follow, logs -f): run.started carries the attempt.
    const rerunStarted: RunEvent = { ...started, attempt: 2 };
    expect(lineViewHeading(rerunStarted)).toBe(`${heading}\n`);
    expect(ttyViewHeading(rerunStarted)).toBe(heading);
  });

  it('starts with a small letter inside a sentence', () => {
    expect(runHeading({ id: '7', runNumber: 5, workflowName: 'slow' }, 'run')).toBe('run 7 of slow (#5)');
  });
});
