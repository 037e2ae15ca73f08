import { describe, expect, it } from 'vitest';
import type { ControlMessage } from '../../src/protocol/messages.js';
import { settle } from '../core/manual-clock.js';
import { oneJobWorkflow, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { completing, ScriptedRunner } from './scripted-runner.js';

const east = { runnerId: 'rnr_east', transport: 'websocket' };
const west = { runnerId: 'rnr_west', transport: 'long-poll' };

describe('ControlPlane: the runner of each job attempt', () => {
  const openPlane = planesOnSqlite('job-runner');

  it('stores the fleet runner that started each attempt with it; a runner without identity (the local mode) is not stored', async () => {
    const { plane: p, stores } = openPlane();
    let ran = 0;
    // Fails the first job it gets and declines any other, so the retry goes to the other runner.
    const failingOnce = (message: ControlMessage, runner: ScriptedRunner) => {
      const { jobId } = message.type === 'offer' ? message : { jobId: undefined };
      if (jobId !== undefined && ran++ === 0) runner.send({ type: 'accept', jobId });
      else if (jobId !== undefined) runner.send({ type: 'decline', jobId, reason: 'ran one already' });
      if (message.type === 'lease') runner.complete(message, 'failed');
    };
    new ScriptedRunner(p, failingOnce, { identity: east, name: 'east 1' });
    const retried = await p.startRun(oneJobWorkflow('    retry: {max-attempts: 2, delay: 1ms}\n'), request);
    await settle();
    new ScriptedRunner(p, completing, { identity: west, name: 'west 2' });
    expect(await retried.done).toBe('succeeded');
    const [job] = await stores.runs.listJobs(retried.id);
    if (job === undefined) throw new Error('no job stored');
    expect(job).toMatchObject({ attempt: 2, runner: { id: 'rnr_west', name: 'west 2' } });
    const attempts = await stores.runs.listJobAttempts(job.id);
    expect(attempts.map(({ attempt, status, runner }) => ({ attempt, status, runner }))).toEqual([
      { attempt: 1, status: 'failed', runner: { id: 'rnr_east', name: 'east 1' } },
    ]);

    const local = openPlane();
    new ScriptedRunner(local.plane, completing, { name: 'in-process' });
    const run = await local.plane.startRun(oneJobWorkflow(), request);
    expect(await run.done).toBe('succeeded');
    const [ranLocally] = await local.stores.runs.listJobs(run.id);
    expect(ranLocally?.status).toBe('succeeded');
    expect(ranLocally).not.toHaveProperty('runner');
  });
});
