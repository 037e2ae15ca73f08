import { afterEach, describe, expect, it, vi } from 'vitest';
import { colors } from '../../../src/cli/views/format.js';
import { summaryTable } from '../../../src/cli/views/summary.js';
import { TtyView } from '../../../src/cli/views/tty-view.js';
import { frameLines } from './frame-lines.js';

afterEach(() => {
  vi.useRealTimers();
});

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
    vi.useFakeTimers();
    const written: string[] = [];
    const view = new TtyView({ write: (chunk) => written.push(chunk) }, colors(false), () => 80);
    view.onEvent({ type: 'job.started', jobId: '1.1', name: 'build', at: 1 });
    view.onEvent({
      type: 'job.completed',
      jobId: '1.1',
      name: 'build',
      status: 'failed',
      durationMs: 900,
      at: 2,
    });
    view.onEvent({
      type: 'job.completed',
      jobId: '1.2',
      name: 'deploy',
      status: 'skipped',
      durationMs: 0,
      at: 2,
    });
    vi.advanceTimersByTime(100);
    const lines = frameLines(written.at(-1) ?? '').map((line) => line.trimEnd());
    expect(lines).toContain('  ✗ build   failed     900ms');
    expect(lines).toContain('  - deploy  skipped');
    view.close();
  });
});
