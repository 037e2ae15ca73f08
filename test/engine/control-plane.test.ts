import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlane, type ControlPlaneOptions, type RunRequest } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { completing, ScriptedRunner } from './scripted-runner.js';

const request: RunRequest = {
  workflowName: 'w',
  workspace: '/tmp',
  actor: 't',
  vars: {},
  secrets: {},
  envOverrides: {},
};

const oneJob = parseWorkflow('jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n', 'w.yml').workflow;

describe('ControlPlane', () => {
  const dirs: string[] = [];
  const open: Stores[] = [];
  afterEach(async () => {
    for (const stores of open.splice(0)) await stores.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function plane(options?: ControlPlaneOptions): { plane: ControlPlane; events: RunEvent[] } {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-plane-'));
    dirs.push(dir);
    const stores = openSqliteStores(join(dir, 'state.db'));
    open.push(stores);
    const events: RunEvent[] = [];
    const controlPlane = new ControlPlane(stores, options);
    controlPlane.onEvent((event) => events.push(event));
    return { plane: controlPlane, events };
  }
  if (!oneJob) throw new Error('workflow did not parse');

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
