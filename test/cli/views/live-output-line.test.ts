import { afterEach, describe, expect, it, vi } from 'vitest';
import { colors } from '../../../src/cli/views/format.js';
import { TtyView, visibleText } from '../../../src/cli/views/tty-view.js';
import { frameLines } from './frame-lines.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A TtyView on a terminal `rows` high; `frame()` answers the block it drew last. */
function liveView(rows: number) {
  vi.useFakeTimers();
  const written: string[] = [];
  const view = new TtyView(
    { write: (chunk) => written.push(chunk) },
    colors(false),
    () => 80,
    () => rows,
  );
  return {
    view,
    frame(): string[] {
      vi.advanceTimersByTime(100);
      return frameLines(written.at(-1) ?? '');
    },
  };
}

const log = (jobId: string, job: string, text: string) =>
  ({ type: 'log', jobId, job, stepIndex: 0, stream: 'stdout', text, at: 2 }) as const;

describe("the live block's line of what a running job printed last", () => {
  it('comes under each running job, for its current step only, and goes when the job ends', () => {
    const { view, frame } = liveView(24);
    view.onEvent({ type: 'job.started', jobId: '1.1', name: 'build', at: 1 });
    view.onEvent({ type: 'job.started', jobId: '1.2', name: 'lint', at: 1 });
    view.onEvent({ type: 'step.started', jobId: '1.1', job: 'build', index: 0, step: 'Run make', at: 1 });
    view.onEvent(log('1.1', 'build', 'cc -c a.c\ncc -c b.c'));
    const first = frame();
    expect(first[1]).toMatch(/^ {2}● build {2}running .* Run make$/);
    expect(first[2]).toBe('    │ cc -c b.c');
    expect(first[3]).toMatch(/^ {2}● lint /);
    expect(first).toHaveLength(4);

    view.onEvent({ type: 'step.started', jobId: '1.1', job: 'build', index: 1, step: 'Run test', at: 3 });
    expect(frame()).toHaveLength(3);
    view.onEvent(log('1.1', 'build', 'ok 1\n\n'));
    expect(frame()[2]).toBe('    │ ok 1');
    view.onEvent({
      type: 'job.completed',
      jobId: '1.1',
      name: 'build',
      status: 'succeeded',
      durationMs: 5,
      at: 6,
    });
    expect(frame().join('\n')).not.toContain('│');
    view.close();
  });

  it('is left out while the block would not fit the terminal', () => {
    const { view, frame } = liveView(4);
    for (const id of ['1.1', '1.2']) {
      view.onEvent({ type: 'job.started', jobId: id, name: id, at: 1 });
      view.onEvent(log(id, id, `working on ${id}`));
    }
    expect(frame()).toHaveLength(3);
    view.close();
  });

  it('shows what a terminal would: the last state of a progress bar, no escapes or control characters', () => {
    expect(visibleText('10%\r50%\r90%')).toBe('90%');
    expect(visibleText('\u001b[1;32mok\u001b[0m done\u001b[2K\u0007')).toBe('ok done');
    expect(visibleText('a\tb\u001b[3Ac')).toBe('a  bc');
  });
});
