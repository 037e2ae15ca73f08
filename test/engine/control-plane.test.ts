import { describe, expect, it } from 'vitest';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { oneJobWorkflow, planesOnSqlite, runRequest as request } from './plane-fixtures.js';
import { completing, ScriptedRunner } from './scripted-runner.js';

const oneJob = oneJobWorkflow();

describe('ControlPlane', () => {
  const plane = planesOnSqlite('plane');

  it('does not offer a job again to the runner that declined it; another runner gets it', async () => {
    const { plane: p } = plane();
    const decliner = new ScriptedRunner(p, (m, r) => {
      if (m.type === 'offer') r.send({ type: 'decline', jobId: m.jobId, reason: 'busy' });
    });
    const handle = await p.startRun(oneJob, request);
    await new Promise((r) => setTimeout(r, 50));
    expect(decliner.received.filter((m) => m.type === 'offer')).toHaveLength(1);
    new ScriptedRunner(p, completing);
    expect(await handle.done).toBe('succeeded');
  });

  it('fails a running job with on-runner-lost: fail as runner_lost when its runner disconnects', async () => {
    const { plane: p, events } = plane();
    new ScriptedRunner(p, (m, r) => {
      if (m.type === 'offer') r.send({ type: 'accept', jobId: m.jobId });
      if (m.type === 'lease') r.end.close('connection reset');
    });
    const failing = parseWorkflow(
      'jobs:\n  a:\n    runs-on: x\n    on-runner-lost: fail\n    steps: [{ run: "true" }]\n',
      'w.yml',
    ).workflow;
    if (!failing) throw new Error('workflow did not parse');
    const handle = await p.startRun(failing, request);
    expect(await handle.done).toBe('failed');
    const completed = events.find((e) => e.type === 'job.completed');
    expect(completed).toMatchObject({ status: 'failed', reason: 'runner_lost: connection reset' });
  });

  it('cancels a job whose offer is still unanswered, and ignores the late accept', async () => {
    const { plane: p } = plane();
    const runner = new ScriptedRunner(p, () => {});
    const handle = await p.startRun(oneJob, request);
    await new Promise((r) => setTimeout(r, 20));
    const offer = runner.received.find((m) => m.type === 'offer');
    handle.cancel(false);
    expect(await handle.done).toBe('cancelled');
    runner.send({ type: 'accept', jobId: offer?.type === 'offer' ? offer.jobId : '' });
    await new Promise((r) => setTimeout(r, 20));
    expect(runner.received.some((m) => m.type === 'lease')).toBe(false);
  });

  it('puts the run bundle in the job spec and an issued job token in the lease', async () => {
    const issued: unknown[] = [];
    const { plane: p } = plane({
      leaseTtlMs: 1000,
      issueJobToken: (jobId, runId, ttlMs) => {
        issued.push({ jobId, runId, ttlMs });
        return `token-for-${jobId}`;
      },
    });
    const runner = new ScriptedRunner(p, completing);
    const sha256 = 'a'.repeat(64);
    const handle = await p.startRun(oneJob, { ...request, bundle: { sha256 } });
    expect(await handle.done).toBe('succeeded');
    const lease = runner.received.find((m) => m.type === 'lease');
    expect(lease).toMatchObject({ jobToken: `token-for-${handle.id}.1`, job: { bundle: { sha256 } } });
    // The job's default timeout (360 minutes) plus one lease TTL.
    expect(issued).toEqual([{ jobId: `${handle.id}.1`, runId: handle.id, ttlMs: 360 * 60_000 + 1000 }]);
  });
});
