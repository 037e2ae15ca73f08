import { describe, expect, it } from 'vitest';
import { readServerRun } from '../../../src/cli/run-answer.js';
import { colors } from '../../../src/cli/views/format.js';
import { runDetailLines } from '../../../src/cli/views/run-detail.js';

/** A server's view of a run whose `flaky` job failed and whose job-level continue-on-error let it pass. */
const view = {
  id: '7',
  runNumber: 3,
  workflowName: 'ci',
  status: 'succeeded',
  attempt: 1,
  createdAt: 1_000,
  startedAt: 1_000,
  finishedAt: 1_500,
  jobs: [
    {
      id: '7.1',
      key: 'flaky',
      name: 'flaky',
      status: 'failed',
      attempt: 1,
      startedAt: 1_000,
      finishedAt: 1_040,
      durationMs: 40,
      reason: 'step "Run exit 3" failed with exit code 3',
      continuedOnError: true,
      outputs: {},
      staleWrites: [],
    },
    { id: '7.2', key: 'after', name: 'after', status: 'succeeded', attempt: 1, outputs: {}, staleWrites: [] },
  ],
};

describe("show --server's line of a job its continue-on-error let pass", () => {
  it('says the failed job was continued, as local show does, and nothing of any other job', () => {
    const { run } = readServerRun(view);
    expect(run.jobs.map((job) => job.continuedOnError)).toEqual([true, undefined]);
    expect(runDetailLines(run, colors(false)).slice(1)).toEqual([
      '  ✗ failed    flaky 40ms (step "Run exit 3" failed with exit code 3), continued (continue-on-error)',
      '  ✓ succeeded after',
    ]);
  });
});
