import { describe, expect, it } from 'vitest';
import { colors } from '../../../src/cli/views/format.js';
import { LineView } from '../../../src/cli/views/line-view.js';

describe('LineView: a step a cancel stopped', () => {
  it('says the step was cancelled, as it says a failed one failed', () => {
    const written: string[] = [];
    const view = new LineView({ write: (text) => written.push(text) }, colors(false));
    const step = { index: 0, name: 'Run make test', startedAt: 1_000, finishedAt: 3_400 } as const;
    view.onEvent({
      type: 'step.completed',
      jobId: '1.1',
      job: 'build',
      step: { ...step, outcome: 'cancelled', conclusion: 'cancelled' },
    });
    view.onEvent({
      type: 'step.completed',
      jobId: '1.1',
      job: 'build',
      step: { ...step, index: 1, name: 'Run cleanup', outcome: 'success', conclusion: 'success' },
    });
    view.close();
    expect(written).toEqual(['[build] ⊘ Run make test cancelled\n']);
  });
});
