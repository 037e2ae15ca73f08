import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/engine/events.js';
import { resolveWorkflowGroup, type WorkflowGroup } from '../../src/engine/workflow-group.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { oneJobWorkflow, parsedWorkflow, planesOnSqlite, runRequest } from './plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from './scripted-runner.js';

const deploy = (extra = '') =>
  parsedWorkflow(
    `concurrency:\n  group: deploy-\${{ vars.env }}\n${extra}jobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n`,
  );

function groupOf(yaml = ''): WorkflowGroup {
  const group = resolveWorkflowGroup(deploy(yaml), { ...runRequest, vars: { env: 'prod' } });
  if (group === undefined) throw new Error('no group');
  return group;
}

const concurrencyStates = (events: RunEvent[], runId: string) =>
  events.flatMap((e) => (e.type === 'concurrency' && e.runId === runId ? [e.state] : []));

describe('ControlPlane: a workflow-level concurrency group holds a run before its first job', () => {
  const openPlane = planesOnSqlite('groups');
  function plane() {
    const clock = new ManualClock();
    return { ...openPlane({ clock }), clock };
  }

  it('resolves the group from vars and github, and nothing without concurrency:', () => {
    expect(groupOf()).toEqual({ group: 'deploy-prod', cancelInProgress: false, queue: false });
    expect(resolveWorkflowGroup(oneJobWorkflow(), runRequest)).toBe(undefined);
  });

  it('runs a second run of the group only after the first one finished; it waits queued', async () => {
    const { plane: p, stores, clock, events } = plane();
    const runner = new ScriptedRunner(p, accepting, { capacity: 2 });
    const group = groupOf();
    const first = await p.submitRun(deploy(), runRequest, { group });
    const second = await p.submitRun(deploy(), runRequest, { group });
    if (first.kind !== 'started' || second.kind !== 'started') throw new Error('not started');
    await clock.advance(1_000);
    expect(runner.of('lease')).toHaveLength(1);
    expect((await stores.runs.getRun(second.handle.id))?.status).toBe('queued');
    expect(concurrencyStates(events, second.handle.id)).toContain('waiting');

    runner.complete(runner.of('lease')[0] as Lease);
    expect(await first.handle.done).toBe('succeeded');
    await clock.advance(1_000);
    const lease = runner.of('lease')[1];
    if (!lease) throw new Error('the second run never started');
    expect(lease.jobId.startsWith(`${second.handle.id}.`)).toBe(true);
    runner.complete(lease);
    expect(await second.handle.done).toBe('succeeded');
  });

  it('cancel-in-progress: a newer run cancels the running one and then starts', async () => {
    const { plane: p, stores, clock, events } = plane();
    const runner = new ScriptedRunner(p, accepting, { capacity: 2 });
    const group = groupOf('  cancel-in-progress: true\n');
    const first = await p.submitRun(deploy(), runRequest, { group });
    if (first.kind !== 'started') throw new Error('not started');
    await clock.advance(500);
    expect(runner.of('lease')).toHaveLength(1);
    const second = await p.submitRun(deploy(), runRequest, { group });
    if (second.kind !== 'started') throw new Error('not started');
    await clock.advance(500);
    // The first run's job is told to stop, and why; its runner reports it cancelled.
    const cancel = runner.of('cancel')[0];
    expect(cancel?.jobId).toBe(runner.of('lease')[0]?.jobId);
    const why = 'cancelled by a newer run of concurrency group "deploy-prod"';
    expect(cancel?.reason).toBe(why);
    const lease = runner.of('lease')[0] as Lease;
    runner.send({
      type: 'job.completed',
      jobId: lease.jobId,
      fencingToken: lease.fencingToken,
      // As an older runner says it: the job keeps the reason it was cancelled for here.
      outcome: { kind: 'cancelled', reason: 'cancelled' },
      outputs: {},
      at: 1,
    });
    expect(await first.handle.done).toBe('cancelled');
    expect(await stores.runs.listJobs(first.handle.id)).toMatchObject([{ status: 'cancelled', reason: why }]);
    expect(concurrencyStates(events, first.handle.id)).toEqual(['cancel-requested']);
    await clock.advance(1_000);
    const next = runner.of('lease')[1];
    if (!next) throw new Error('the newer run never started');
    runner.complete(next);
    expect(await second.handle.done).toBe('succeeded');
  });

  it('a pending run replaced by a newer one ends cancelled without running, its jobs stored cancelled', async () => {
    const { plane: p, stores, clock, events } = plane();
    const runner = new ScriptedRunner(p, accepting, { capacity: 3 });
    const group = groupOf();
    const running = await p.submitRun(deploy(), runRequest, { group });
    const pending = await p.submitRun(deploy(), runRequest, { group });
    await clock.advance(500);
    const newest = await p.submitRun(deploy(), runRequest, { group });
    if (running.kind !== 'started' || pending.kind !== 'started' || newest.kind !== 'started')
      throw new Error('not started');
    await clock.advance(500);
    expect(await pending.handle.done).toBe('cancelled');
    expect(concurrencyStates(events, pending.handle.id)).toEqual(['waiting', 'replaced']);
    expect(await stores.runs.listJobs(pending.handle.id)).toMatchObject([
      { status: 'cancelled', reason: 'replaced by a newer run of concurrency group "deploy-prod"' },
    ]);
    expect(runner.of('lease')).toHaveLength(1);
    runner.complete(runner.of('lease')[0] as Lease);
    await running.handle.done;
    await clock.advance(1_000);
    runner.complete(runner.of('lease')[1] as Lease);
    expect(await newest.handle.done).toBe('succeeded');
  });

  it('cancelling a waiting run ends it at once and leaves its place to the next', async () => {
    const { plane: p, clock } = plane();
    const runner = new ScriptedRunner(p, accepting, { capacity: 3 });
    const group = groupOf('  queue: true\n');
    const running = await p.submitRun(deploy(), runRequest, { group });
    const waiting = await p.submitRun(deploy(), runRequest, { group });
    const third = await p.submitRun(deploy(), runRequest, { group });
    if (running.kind !== 'started' || waiting.kind !== 'started' || third.kind !== 'started')
      throw new Error('not started');
    await clock.advance(500);
    waiting.handle.cancel(false);
    expect(await waiting.handle.done).toBe('cancelled');
    runner.complete(runner.of('lease')[0] as Lease);
    await running.handle.done;
    await clock.advance(1_000);
    await settle();
    const lease = runner.of('lease')[1];
    expect(lease?.jobId.startsWith(`${third.handle.id}.`)).toBe(true);
    runner.complete(lease as Lease);
    expect(await third.handle.done).toBe('succeeded');
  });

  it('a resumed run joins its group again: none of its jobs is queued while another run holds the slot', async () => {
    const { plane: p, stores, clock, events } = plane();
    const runner = new ScriptedRunner(p, accepting, { capacity: 2 });
    const group = groupOf();
    const holder = await p.submitRun(deploy(), runRequest, { group });
    if (holder.kind !== 'started') throw new Error('not started');
    await clock.advance(500);
    // A run an earlier process created and left before planning any job.
    const left = await stores.runs.submitRun(
      { workflowName: 'w', workflowPath: 'w.yml', createdAt: clock.now() },
      { plannedJobs: 1 },
    );
    if (left.kind !== 'created') throw new Error('not created');
    const resumed = p.continueRun('resume', deploy(), runRequest, left.run, [], group);
    await clock.advance(1_000);
    expect(runner.of('lease')).toHaveLength(1);
    expect(await stores.runs.listJobs(resumed.id)).toEqual([]);
    expect(concurrencyStates(events, resumed.id)).toEqual(['waiting']);

    runner.complete(runner.of('lease')[0] as Lease);
    await holder.handle.done;
    await clock.advance(1_000);
    const lease = runner.of('lease')[1];
    expect(lease?.jobId.startsWith(`${resumed.id}.`)).toBe(true);
    runner.complete(lease as Lease);
    expect(await resumed.done).toBe('succeeded');
  });
});

describe('ControlPlane: a job-level concurrency group says why it cancelled a job', () => {
  const openPlane = planesOnSqlite('job-groups');
  const solo = (cancelInProgress: boolean) =>
    oneJobWorkflow(`    concurrency: {group: solo, cancel-in-progress: ${cancelInProgress}}\n`);

  it('names the group and the newer job, as the workflow-level group names the newer run', async () => {
    const clock = new ManualClock();
    const { plane: p, stores } = openPlane({ clock });
    const runner = new ScriptedRunner(p, accepting, { capacity: 3 });
    const running = await p.startRun(solo(false), runRequest);
    await clock.advance(500);
    const waiting = await p.startRun(solo(false), runRequest);
    await clock.advance(500);
    await p.startRun(solo(true), runRequest);
    await clock.advance(500);
    expect(await waiting.done).toBe('cancelled');
    expect(await stores.runs.listJobs(waiting.id)).toMatchObject([
      { status: 'cancelled', reason: 'replaced by a newer job of concurrency group "solo"' },
    ]);
    // The running job's runner is told why; it writes the job's line saying so, not the control plane.
    const why = 'cancelled by a newer job of concurrency group "solo"';
    const lease = runner.of('lease')[0] as Lease;
    expect(runner.of('cancel')).toEqual([
      { type: 'cancel', jobId: lease.jobId, reason: why, immediate: false },
    ]);
    runner.send({
      type: 'job.completed',
      jobId: lease.jobId,
      fencingToken: lease.fencingToken,
      outcome: { kind: 'cancelled', reason: why },
      outputs: {},
      at: 1,
    });
    expect(await running.done).toBe('cancelled');
    expect(await stores.runs.listJobs(running.id)).toMatchObject([{ status: 'cancelled', reason: why }]);
    expect((await stores.logs.read(running.id)).map((line) => line.text)).not.toContain(why);
  });

  it('fails a job whose group cannot be evaluated, naming the error and where the group is, as GitHub fails a bad expression', async () => {
    const clock = new ManualClock();
    const { plane: p, stores } = openPlane({ clock });
    new ScriptedRunner(p, accepting, { capacity: 1 });
    const bad = oneJobWorkflow(`    concurrency: {group: "\${{ fromJSON('not json') }}"}\n`);
    const handle = await p.startRun(bad, runRequest);
    await clock.advance(500);
    expect(await handle.done).toBe('failed');
    const [job] = await stores.runs.listJobs(handle.id);
    expect(job).toMatchObject({ status: 'failed' });
    expect(job?.reason).toMatch(/^w\.yml:4:26: its concurrency group could not be evaluated: .*JSON/);
  });

  it('names cancel-in-progress, not the group, when that is the expression that fails', async () => {
    const clock = new ManualClock();
    const { plane: p, stores } = openPlane({ clock });
    new ScriptedRunner(p, accepting, { capacity: 1 });
    const bad = oneJobWorkflow(
      `    concurrency: {group: g, cancel-in-progress: "\${{ fromJSON('not json') }}"}\n`,
    );
    const handle = await p.startRun(bad, runRequest);
    await clock.advance(500);
    expect(await handle.done).toBe('failed');
    const [job] = await stores.runs.listJobs(handle.id);
    expect(job?.reason).toMatch(
      /^w\.yml:4:49: its concurrency cancel-in-progress could not be evaluated: .*JSON/,
    );
  });
});
