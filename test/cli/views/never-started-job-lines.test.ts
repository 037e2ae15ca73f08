import { afterEach, describe, expect, it, vi } from 'vitest';
import { colors } from '../../../src/cli/views/format.js';
import { LineView } from '../../../src/cli/views/line-view.js';
import { summaryTable } from '../../../src/cli/views/summary.js';
import { TtyView } from '../../../src/cli/views/tty-view.js';
import type { RunEvent } from '../../../src/engine/events.js';
import { frameLines } from './frame-lines.js';

afterEach(() => {
  vi.useRealTimers();
});

/** The job lines of the live view's frame once it has been told `events`. */
function liveLines(events: readonly RunEvent[]): string[] {
  vi.useFakeTimers();
  const written: string[] = [];
  const view = new TtyView({ write: (chunk) => written.push(chunk) }, colors(false), () => 80);
  for (const event of events) view.onEvent(event);
  vi.advanceTimersByTime(100);
  view.close();
  return frameLines(written.at(-1) ?? '').map((line) => line.trimEnd());
}

// A skipped job never ran: the engine's 0 is no time it took.
describe('a skipped job in the views', () => {
  it('has no duration in the run summary, where a job that ran has one', () => {
    const jobs = [
      { name: 'build', status: 'failed', durationMs: 1500 },
      { name: 'deploy', status: 'skipped', durationMs: 0 },
    ] as const;
    expect(summaryTable(jobs, 'failed', 1600, colors(false)).split('\n')).toEqual([
      '  JOB     STATUS        DURATION',
      '  build   ✗ failed      1.5s',
      '  deploy  - skipped',
      '',
      'Run failed in 1.6s',
    ]);
  });

  it('has no duration on its live line', () => {
    const lines = liveLines([
      { type: 'job.started', jobId: '1.1', name: 'build', at: 1 },
      { type: 'job.completed', jobId: '1.1', name: 'build', status: 'failed', durationMs: 900, at: 2 },
      { type: 'job.completed', jobId: '1.2', name: 'deploy', status: 'skipped', durationMs: 0, at: 2 },
    ]);
    expect(lines).toContain('  ✗ build   failed     900ms');
    expect(lines).toContain('  - deploy  skipped');
  });
});

// A job cancelled before it started (fail-fast, a cancel while it was queued, a cancelled `needs`):
// its 0 is the engine's placeholder too; `show` leaves it out.
const cancelled: RunEvent[] = [
  { type: 'job.started', jobId: '1.1', name: 'build', at: 1 },
  { type: 'job.completed', jobId: '1.1', name: 'build', status: 'cancelled', durationMs: 0, at: 1 },
  {
    type: 'job.completed',
    jobId: '1.2',
    name: 'deploy',
    status: 'cancelled',
    durationMs: 0,
    neverStarted: true,
    reason: 'the run was cancelled',
    at: 2,
  },
];

describe('a job that never started in the views', () => {
  it('has no duration in the run summary, where one that ran for no time has one', () => {
    const jobs = [
      { name: 'build', status: 'cancelled', durationMs: 0 },
      { name: 'deploy', status: 'cancelled', durationMs: 0, neverStarted: true },
    ] as const;
    expect(summaryTable(jobs, 'cancelled', 1600, colors(false)).split('\n').slice(1, 3)).toEqual([
      '  build   ⊘ cancelled   0ms',
      '  deploy  ⊘ cancelled',
    ]);
  });

  it('has no duration on its live line', () => {
    const lines = liveLines(cancelled);
    expect(lines).toContain('  ⊘ build   cancelled    0ms');
    expect(lines).toContain('  ⊘ deploy  cancelled        the run was cancelled');
  });

  it('has no duration on its line without a terminal, where one that ran for no time has one', () => {
    const written: string[] = [];
    const view = new LineView({ write: (chunk) => written.push(chunk) }, colors(false));
    for (const event of cancelled) view.onEvent(event);
    expect(written.join('').split('\n')).toEqual([
      '[build] ⊘ cancelled in 0ms',
      '[deploy] ⊘ cancelled: the run was cancelled',
      '',
    ]);
  });
});
