import { describe, expect, it } from 'vitest';
import { readJobLogLinePage } from '../../src/cli/log-lines-answer.js';

describe('readJobLogLinePage', () => {
  it('keeps when each line was written, so a job line is headed after the steps that ended before it, as locally', () => {
    const page = readJobLogLinePage({
      lines: [
        { stepIndex: 0, stream: 'stdout', at: 5, text: 'tick 1' },
        { stepIndex: -1, stream: 'system', at: 9, text: 'attempt 1 ended (…)', jobAttempt: 1 },
        { stepIndex: -1, stream: 'system', text: 'from a server that leaves it out', jobAttempt: 2 },
      ],
      steps: [{ index: 0, name: 'tick' }],
    });
    expect(page.lines).toEqual([
      { stepIndex: 0, at: 5, text: 'tick 1' },
      { stepIndex: -1, at: 9, text: 'attempt 1 ended (…)', jobAttempt: 1 },
      { stepIndex: -1, text: 'from a server that leaves it out', jobAttempt: 2 },
    ]);
  });
});
