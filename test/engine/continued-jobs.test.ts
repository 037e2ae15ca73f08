import { describe, expect, it } from 'vitest';
import type { ControlMessage } from '../../src/protocol/messages.js';
import { jobCompletedOf, runCompletedOf } from '../../src/server/stored-run-events.js';
import { jobsWorkflow, planesOnSqlite, runRequest } from './plane-fixtures.js';
import { accepting, ScriptedRunner } from './scripted-runner.js';

// `a` fails and its continue-on-error lets the run go on; `b` fails without one, after `a`, with `if: always()`.
const workflow = jobsWorkflow(
  '  a:\n    runs-on: x\n    continue-on-error: true\n    steps: [{ run: "false" }]\n' +
    '  b:\n    runs-on: x\n    needs: a\n    if: always()\n    steps: [{ run: "false" }]\n',
);

const failing = (message: ControlMessage, runner: ScriptedRunner): void => {
  accepting(message, runner);
  if (message.type === 'lease') runner.complete(message, 'failed');
};

describe('a failed job its continue-on-error let pass', () => {
  const plane = planesOnSqlite('continued-jobs');

  it('is told so live and from the store (a server replay), and no other job is', async () => {
    const { plane: p, stores, events } = plane();
    new ScriptedRunner(p, failing);
    const handle = await p.startRun(workflow, runRequest);
    expect(await handle.done).toBe('failed');

    const completed = events.filter((event) => event.type === 'job.completed');
    expect(completed.map((event) => [event.name, event.status, event.continuedOnError])).toEqual([
      ['a', 'failed', true],
      ['b', 'failed', undefined],
    ]);
    const summary = events.find((event) => event.type === 'run.completed');
    const live = summary?.type === 'run.completed' ? summary.jobs : [];
    expect(live.map((job) => job.continuedOnError)).toEqual([true, undefined]);

    const run = await stores.runs.getRun(handle.id);
    if (run === undefined) throw new Error('no run stored');
    const records = await stores.runs.listJobs(handle.id);
    expect(records.map((job) => job.continuedOnError)).toEqual([true, undefined]);
    const stored = runCompletedOf(run, records);
    expect(stored.type === 'run.completed' && stored.jobs.map((job) => job.continuedOnError)).toEqual([
      true,
      undefined,
    ]);
    const [a, b] = records;
    if (a === undefined || b === undefined) throw new Error('jobs not stored');
    expect(jobCompletedOf(a, 'failed', run)).toMatchObject({ continuedOnError: true });
    expect(jobCompletedOf(b, 'failed', run)).not.toHaveProperty('continuedOnError');
  });
});
