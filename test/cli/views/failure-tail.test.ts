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

  it("is the job's own lines: not the control plane's (the runner it ran on), nor an earlier attempt's", () => {
    const written: string[] = [];
    const view = new TtyView({ write: (text) => written.push(text) }, colors(false), () => 80);
    const system = (jobId: string, job: string, text: string) =>
      ({ type: 'log', jobId, job, stepIndex: -1, stream: 'system', text, at: 1_001 }) as const;
    const failed = (jobId: string, name: string, reason: string) =>
      ({ type: 'job.completed', jobId, name, status: 'failed', durationMs: 5, reason, at: 1_005 }) as const;
    view.onEvent({ type: 'job.started', jobId: '1.1', name: 'quiet', at: 1_000 });
    view.onEvent(system('1.1', 'quiet', 'running on runner r1 (3f9a0c1d2e4b)'));
    view.onEvent(failed('1.1', 'quiet', 'step "Run exit 4" failed with exit code 4'));
    view.onEvent({ type: 'job.started', jobId: '1.2', name: 'flaky', at: 1_000 });
    view.onEvent({
      type: 'log',
      jobId: '1.2',
      job: 'flaky',
      stepIndex: 0,
      stream: 'stdout',
      text: 'first try',
      at: 1_001,
    });
    view.onEvent(system('1.2', 'flaky', 'attempt 1 failed; retrying in 1s'));
    view.onEvent({
      type: 'job.retrying',
      jobId: '1.2',
      name: 'flaky',
      attempt: 2,
      delayMs: 1_000,
      reason: 'failed',
      at: 1_002,
    });
    view.onEvent({ type: 'job.started', jobId: '1.2', name: 'flaky', at: 2_000, attempt: 2 });
    view.onEvent(system('1.2', 'flaky', 'running on runner r2 (4a0b1c2d3e4f)'));
    view.onEvent({
      type: 'log',
      jobId: '1.2',
      job: 'flaky',
      stepIndex: 0,
      stream: 'stderr',
      text: 'second try',
      at: 2_001,
    });
    view.onEvent(failed('1.2', 'flaky', 'step "Run t" failed with exit code 1'));
    view.onEvent({
      type: 'run.completed',
      runId: '1',
      status: 'failed',
      durationMs: 5,
      jobs: [
        { name: 'quiet', status: 'failed', durationMs: 5 },
        { name: 'flaky', status: 'failed', durationMs: 5 },
      ],
    });
    view.close();
    const out = written.join('');
    expect(out.slice(out.indexOf('── quiet')).split('\n')).toEqual([
      '── quiet (failed) ── it printed nothing; step "Run exit 4" failed with exit code 4',
      '',
      '── flaky (failed) ── its last line',
      '  second try',
      '',
    ]);
  });
});
