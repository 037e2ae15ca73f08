import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import { jobCompletedOf, runCompletedOf } from '../../src/server/stored-run-events.js';
import { jobsWorkflow, planesOnSqlite, runRequest } from './plane-fixtures.js';
import { completing, ScriptedRunner } from './scripted-runner.js';

// `a` runs; `b` waits for a runner with label `y` until the run is cancelled; `c` needs `b`.
const workflow = jobsWorkflow(
  '  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n' +
    '  b:\n    runs-on: y\n    steps: [{ run: "true" }]\n' +
    '  c:\n    runs-on: x\n    needs: b\n    steps: [{ run: "true" }]\n',
);

const completedOf = (events: readonly RunEvent[], name: string) =>
  events.find((event) => event.type === 'job.completed' && event.name === name);

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('jobs that never started', () => {
  const plane = planesOnSqlite('never-started');

  it('are told as such, live and from the store: no attempt of them started, so 0 is no time they took', async () => {
    const { plane: p, stores, events } = plane();
    new ScriptedRunner(p, completing);
    const handle = await p.startRun(workflow, runRequest);
    await until(() => completedOf(events, 'a') !== undefined);
    handle.cancel(false);
    expect(await handle.done).toBe('cancelled');

    expect(completedOf(events, 'a')).not.toHaveProperty('neverStarted', true);
    expect(completedOf(events, 'b')).toMatchObject({ status: 'cancelled', neverStarted: true });
    expect(completedOf(events, 'c')).toMatchObject({ neverStarted: true });
    const summary = events.find((event) => event.type === 'run.completed');
    const jobs = summary?.type === 'run.completed' ? summary.jobs : [];
    expect(jobs.map((job) => [job.name, job.neverStarted === true])).toEqual([
      ['a', false],
      ['b', true],
      ['c', true],
    ]);

    const run = await stores.runs.getRun(handle.id);
    if (run === undefined) throw new Error('no run stored');
    const records = await stores.runs.listJobs(handle.id);
    const stored = runCompletedOf(run, records);
    expect(stored.type === 'run.completed' && stored.jobs.map((job) => job.neverStarted === true)).toEqual([
      false,
      true,
      true,
    ]);
    const b = records.find((job) => job.name === 'b');
    if (b === undefined) throw new Error('no job b stored');
    expect(jobCompletedOf(b, 'cancelled', run)).toMatchObject({ neverStarted: true });
  });
});
