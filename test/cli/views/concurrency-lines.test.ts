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
