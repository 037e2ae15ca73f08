import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/engine/control-plane.js';
import { ShellExecutor } from '../../src/executors/shell/index.js';
import { inProcessPair } from '../../src/protocol/in-process.js';
import type { ControlMessage, RunnerMessage } from '../../src/protocol/messages.js';
import { RunnerAgent } from '../../src/runner/agent.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { parseWorkflow } from '../../src/workflow/parse.js';
import { settle } from '../core/manual-clock.js';
import { runRequest } from '../engine/plane-fixtures.js';
import { accepting, ScriptedRunner } from '../engine/scripted-runner.js';
import { until } from './fleet-harness.js';

const dirs: string[] = [];
const open: Stores[] = [];
afterEach(async () => {
  for (const stores of open.splice(0)) await stores.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** An agent on one end of an in-process pair; the test plays the control plane on the other. */
function agentWithPeer(leaseWaitMs?: number) {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-agent-deregister-'));
  dirs.push(dir);
  const [control, runnerEnd] = inProcessPair<ControlMessage, RunnerMessage>();
  const received: RunnerMessage[] = [];
  control.onMessage((message) => received.push(message));
  const warnings: string[] = [];
  const agent = new RunnerAgent(runnerEnd, {
    warn: (line) => warnings.push(line),
    ...(leaseWaitMs === undefined ? {} : { leaseWaitMs }),
    info: { name: 'r', labels: ['x'], capacity: 1 },
    host: { os: 'Linux', arch: 'X64', name: 'r' },
    createExecutor: () => new ShellExecutor(),
    tempRoot: dir,
    baseEnv: { PATH: '/usr/bin:/bin' },
  });
  agent.start();
  return { agent, control, received, warnings };
}

describe('RunnerAgent.deregister', () => {
  it('sends deregister after drain and resolves answered when the control plane answers', async () => {
    const { agent, control, received } = agentWithPeer();
    await agent.drain('stopping');
    const answered = agent.deregister('the runner is stopping', 5_000);
    await settle();
    expect(received.map((m) => m.type)).toEqual(['register', 'drain', 'deregister']);
    expect(received[2]).toEqual({ type: 'deregister', reason: 'the runner is stopping' });
    control.send({ type: 'deregistered' });
    expect(await answered).toBe('answered');
  });

  it('resolves unanswered at once when the connection closes first (an older server refuses the message)', async () => {
    const { agent, control } = agentWithPeer();
    const answered = agent.deregister('the runner is stopping', 60_000);
    control.close('VK_PROTOCOL: unknown message type');
    expect(await answered).toBe('unanswered');
  });

  it('resolves unanswered after the timeout when nobody answers', async () => {
    const { agent } = agentWithPeer();
    const started = Date.now();
    expect(await agent.deregister('the runner is stopping', 50)).toBe('unanswered');
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});

/**
 * A real lease for a job whose step sleeps `seconds` (granted by a control plane to a scripted
 * runner), for the test to hand to an agent as its control plane would after an accept.
 */
async function sleepingJobLease(seconds: number) {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-agent-drain-plane-'));
  dirs.push(dir);
  const stores = openSqliteStores(join(dir, 'state.db'));
  open.push(stores);
  const plane = new ControlPlane(stores, { leaseTtlMs: 60_000 });
  const parsed = parseWorkflow(
    `jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "sleep ${seconds}" }]\n`,
    'w.yml',
  );
  if (!parsed.workflow)
    throw new Error(`the test workflow did not parse: ${JSON.stringify(parsed.diagnostics)}`);
  const holder = new ScriptedRunner(plane, accepting);
  await plane.startRun(parsed.workflow, runRequest);
  await until(() => holder.of('lease').length > 0, 'the lease');
  return holder.lease();
}

describe('RunnerAgent.drain with an offer accepted just before it', () => {
  it('runs the job whose lease comes while it drains, and waits for it', async () => {
    const { agent, control, received } = agentWithPeer();
    const lease = await sleepingJobLease(0.3);
    control.send({ type: 'offer', jobId: lease.jobId, name: 'a', ttlMs: 30_000 });
    await settle();
    expect(received.map((m) => m.type)).toContain('accept');
    // SIGTERM between the accept and its lease: the control plane has granted the job already.
    let drained = false;
    const draining = agent.drain('the runner is stopping').then(() => {
      drained = true;
    });
    // The lease a moment later (a store write, a round trip): nothing else runs to hold the drain.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(drained).toBe(false);
    control.send(lease);
    await until(() => received.some((m) => m.type === 'step.started'), 'the job to start');
    await settle();
    expect(drained).toBe(false);
    await draining;
    expect(agent.running).toBe(0);
    expect(received.find((m) => m.type === 'job.completed')).toMatchObject({
      jobId: lease.jobId,
      outcome: { kind: 'succeeded' },
    });
  });

  it('leaves a lease that comes after it drained to the control plane, unrun: it deregisters next', async () => {
    const { agent, control, received, warnings } = agentWithPeer(100);
    const lease = await sleepingJobLease(0.3);
    control.send({ type: 'offer', jobId: lease.jobId, name: 'a', ttlMs: 30_000 });
    await agent.drain('the runner is stopping');
    const answered = agent.deregister('the runner is stopping', 5_000);
    control.send(lease);
    await settle();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(agent.running).toBe(0);
    expect(received.map((m) => m.type)).not.toContain('step.started');
    expect(warnings).toEqual([
      `did not run job "a" of run ${lease.job.runId}: its lease came after the runner stopped taking jobs; ` +
        'the server takes it back as the runner deregisters',
    ]);
    control.send({ type: 'deregistered' });
    expect(await answered).toBe('answered');
  });
});

describe('RunnerAgent.cancelAll while a drain waits for a lease', () => {
  it('does not start the job whose lease comes after the runner cancelled its jobs (a second signal)', async () => {
    const { agent, control, received, warnings } = agentWithPeer();
    const lease = await sleepingJobLease(1);
    control.send({ type: 'offer', jobId: lease.jobId, name: 'a', ttlMs: 30_000 });
    await settle();
    expect(received.map((m) => m.type)).toContain('accept');
    // SIGTERM, then SIGINT: the operator wants the runner's jobs cancelled, before this one's lease came.
    const draining = agent.drain('the runner is stopping');
    agent.cancelAll('the runner is shutting down (second SIGINT)', false);
    control.send(lease);
    await settle();
    // Run, its steps would all be skipped (the runner's shutdown skips them unjudged) and the job,
    // uncancelled, reported succeeded: the server would take that for the job's result.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received.filter((m) => m.type.startsWith('step.') || m.type === 'job.completed')).toEqual([]);
    expect(agent.running).toBe(0);
    expect(warnings).toEqual([
      `did not run job "a" of run ${lease.job.runId}: its lease came after the runner stopped its jobs ` +
        '(the runner is shutting down (second SIGINT)); the server takes it back as the runner stops',
    ]);
    // Not held for the rest of the lease wait: the lease it waited for came.
    const started = Date.now();
    await draining;
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
