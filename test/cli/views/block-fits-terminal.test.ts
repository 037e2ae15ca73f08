import { afterEach, describe, expect, it, vi } from 'vitest';
import { colors } from '../../../src/cli/views/format.js';
import { TtyView } from '../../../src/cli/views/tty-view.js';
import { frameLines, frameUp } from './frame-lines.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A TtyView on a terminal whose size the test sets; `frame()` answers what the next frame wrote. */
function liveView(size: { columns: number; rows: number }) {
  vi.useFakeTimers();
  const written: string[] = [];
  const view = new TtyView(
    { write: (chunk) => written.push(chunk) },
    colors(false),
    () => size.columns,
    () => size.rows,
  );
  return {
    view,
    frame(): { up: number; lines: string[] } {
      vi.advanceTimersByTime(100);
      const last = written.at(-1) ?? '';
      return { up: frameUp(last), lines: frameLines(last) };
    },
  };
}

const started = (jobId: string) => ({ type: 'job.started', jobId, name: `job ${jobId}`, at: 1 }) as const;
const ended = (jobId: string, status: 'succeeded' | 'failed') =>
  ({ type: 'job.completed', jobId, name: `job ${jobId}`, status, durationMs: 5, at: 6 }) as const;

/** A TtyView 40 columns wide whose run has started its one job; `written`: every write, in order. */
function oneJobRunning() {
  vi.useFakeTimers();
  const written: string[] = [];
  const view = new TtyView({ write: (chunk) => written.push(chunk) }, colors(false), () => 40);
  view.onEvent({ type: 'run.started', runId: '1', runNumber: 1, workflow: 'ci', at: 0 });
  view.onEvent(started('1'));
  return { view, written };
}

describe('the live block on a terminal with fewer rows than it has jobs', () => {
  it('stays shorter than the terminal: running and failed jobs first, one line counting the others', () => {
    const { view, frame } = liveView({ columns: 40, rows: 8 });
    view.onEvent({ type: 'run.started', runId: '1', runNumber: 1, workflow: 'ci', at: 0 });
    for (let i = 1; i <= 12; i++)
      view.onEvent({ type: 'job.queued', jobId: `${i}`, name: `job ${i}`, at: 0 });
    for (const id of ['1', '2', '3', '4', '9', '11']) view.onEvent(started(id));
    for (const id of ['1', '2', '3']) view.onEvent(ended(id, 'succeeded'));
    view.onEvent(ended('4', 'failed'));
    const { lines } = frame();
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe('Run 1 of ci (#1)');
    expect(lines.slice(1, 6).map((line) => line.slice(0, 12))).toEqual([
      '  ✗ job 4   ',
      '  ○ job 5   ',
      '  ○ job 6   ',
      '  ● job 9   ',
      '  ● job 11  ',
    ]);
    expect(lines[6]).toBe('  … 7 more jobs: 4 queued, 3 succeeded');
    // Redrawn in place: each frame moves up over the last one, and no further.
    expect(frame().up).toBe(7);
    view.close();
  });

  it('is redrawn without clearing from its first line, which tmux would copy to its scrollback', () => {
    const { view, written } = oneJobRunning();
    vi.advanceTimersByTime(200);
    view.close();
    // Each line erases the rest of the row it overwrites; the erase below comes after the last one.
    const frame = written.at(-1) ?? '';
    expect(frame.startsWith('\u001b[2FRun 1 of ci (#1)\u001b[K\n  ● job 1 ')).toBe(true);
    expect(frame.endsWith('\u001b[K\n\u001b[J')).toBe(true);
  });

  it('takes the block away for lines printed aside (the Ctrl-C notice), and draws it again under them', () => {
    const { view, written } = oneJobRunning();
    vi.advanceTimersByTime(100);
    view.aside(() => written.push('\nCancelling the run (Ctrl-C again to kill at once)…\n'));
    vi.advanceTimersByTime(100);
    view.close();
    expect(written.slice(-3, -1)).toEqual([
      '\u001b[2F\u001b[J',
      '\nCancelling the run (Ctrl-C again to kill at once)…\n',
    ]);
    // Under the notice, not over it.
    expect(frameUp(written.at(-1) ?? '')).toBe(0);
    expect(frameLines(written.at(-1) ?? '')[0]).toBe('Run 1 of ci (#1)');
  });
});
