import { describe, expect, it } from 'vitest';
import { colors } from '../../../src/cli/views/format.js';
import { TtyView } from '../../../src/cli/views/tty-view.js';

/** What a terminal shows after the summary table when the run ends: each failed job's last lines. */
function failureTails(
  lines: Record<string, readonly string[]>,
  reasons: Record<string, string> = {},
): string {
  const written: string[] = [];
  const view = new TtyView({ write: (text) => written.push(text) }, colors(false), () => 80);
  const names = Object.keys(lines);
  for (const [i, name] of names.entries()) {
    const jobId = `1.${i + 1}`;
    view.onEvent({ type: 'job.started', jobId, name, at: 1_000 });
    for (const text of lines[name] ?? [])
      view.onEvent({ type: 'log', jobId, job: name, stepIndex: 0, stream: 'stdout', text, at: 1_001 });
    const reason = reasons[name];
    view.onEvent({
      type: 'job.completed',
      jobId,
      name,
      status: 'failed',
      durationMs: 5,
      at: 1_005,
      ...(reason === undefined ? {} : { reason }),
    });
  }
  view.onEvent({
    type: 'run.completed',
    runId: '1',
    status: 'failed',
    durationMs: 5,
    jobs: names.map((name) => ({ name, status: 'failed', durationMs: 5 })),
  });
  view.close();
  const out = written.join('');
  return out.slice(out.indexOf('Run failed in'));
}

describe('TtyView: the tail of each failed job', () => {
  it('counts the lines it shows, and says why a job that printed nothing failed', () => {
    const out = failureTails(
      { quiet: [], silent: [], one: ['only line'], two: ['a', 'b'] },
      { quiet: 'step "Run exit 4" failed with exit code 4' },
    );
    expect(out.split('\n').slice(1)).toEqual([
      '',
      '── quiet (failed) ── it printed nothing; step "Run exit 4" failed with exit code 4',
      '',
      '── silent (failed) ── it printed nothing',
      '',
      '── one (failed) ── its last line',
      '  only line',
      '',
      '── two (failed) ── its last 2 lines',
      '  a',
      '  b',
      '',
    ]);
  });

  it('shows the last 20 lines of a longer log', () => {
    const lines = Array.from({ length: 25 }, (_, i) => `line ${i + 1}`);
    const out = failureTails({ long: lines });
    expect(out).toContain('── long (failed) ── its last 20 lines\n  line 6\n');
    expect(out).not.toContain('line 5\n');
  });
});
