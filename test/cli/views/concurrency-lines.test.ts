import { describe, expect, it } from 'vitest';
import { colors } from '../../../src/cli/views/format.js';
import { LineView } from '../../../src/cli/views/line-view.js';

describe('LineView: a run and its concurrency group', () => {
  it('says what the run waits for, and why it was cancelled', () => {
    const written: string[] = [];
    const view = new LineView({ write: (text) => written.push(text) }, colors(false));
    const run = { type: 'concurrency', runId: '7', group: 'deploy-main' } as const;
    view.onEvent({ ...run, state: 'waiting', ahead: 2, at: 1 });
    view.onEvent({ ...run, state: 'replaced', at: 2 });
    view.onEvent({ ...run, state: 'cancel-requested', at: 3 });
    view.close();
    expect(written).toEqual([
      // With the run's id, which `valkyrie cancel` takes.
      'Run 7 is waiting for concurrency group deploy-main (2 ahead)\u2026\n',
      'Cancelled: a newer run of concurrency group deploy-main replaced this one before it started\n',
      'Cancelling: a newer run of concurrency group deploy-main asked this one to stop (cancel-in-progress)\n',
    ]);
  });
});

describe('the summary of a run that ended while it waited for its concurrency group', () => {
  const waited = (view: LineView, started: boolean) => {
    view.onEvent({ type: 'concurrency', runId: '7', group: 'g', state: 'waiting', ahead: 1, at: 1 });
    if (started) view.onEvent({ type: 'run.started', runId: '7', runNumber: 2, workflow: 'w', at: 600 });
    view.onEvent({
      type: 'run.completed',
      runId: '7',
      status: 'cancelled',
      durationMs: 605,
      jobs: [{ name: 'slow', status: 'cancelled', durationMs: 0 }],
    });
    view.close();
  };

  it('says it was cancelled before it started, and gives the time it waited as that, not as run time', () => {
    const written: string[] = [];
    waited(new LineView({ write: (text) => written.push(text) }, colors(false)), false);
    const summary = written.at(-1) ?? '';
    expect(summary).not.toContain('cancelled in');
    expect(summary).toContain('\n  slow  ⊘ cancelled\n');
    expect(summary.trimEnd().split('\n').at(-1)).toBe(
      'Run cancelled while it waited for concurrency group g, before it started (it waited 605ms)',
    );
  });

  it('times a run that started as before', () => {
    const written: string[] = [];
    waited(new LineView({ write: (text) => written.push(text) }, colors(false)), true);
    expect(written.at(-1)?.trimEnd().split('\n').at(-1)).toBe('Run cancelled in 605ms');
  });
});
