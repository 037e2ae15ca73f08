import { describe, expect, it } from 'vitest';
import { ValkyrieError } from '../../src/core/errors.js';
import { ControlPlane } from '../../src/engine/control-plane.js';
import type { RunEvent } from '../../src/engine/events.js';
import { resolveWorkflowGroup, type WorkflowGroup } from '../../src/engine/workflow-group.js';
import type { ConcurrencyStore } from '../../src/store/concurrency.js';
import type { Stores } from '../../src/store/store.js';
import { ManualClock, settle } from '../core/manual-clock.js';
import { parsedWorkflow, planesOnSqlite, runRequest } from './plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from './scripted-runner.js';

const deploy = () =>
  parsedWorkflow('concurrency: deploy\njobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n');

function deployGroup(): WorkflowGroup {
  const group = resolveWorkflowGroup(deploy(), runRequest);
  if (group === undefined) throw new Error('no group');
  return group;
}

const concurrencyStates = (events: RunEvent[], runId: string) =>
  events.flatMap((e) => (e.type === 'concurrency' && e.runId === runId ? [e.state] : []));

const lockedBeat = () => new ValkyrieError('VK_STORE_LOCKED', 'could not beat: the file stayed locked');

/**
 * `stores` whose concurrency store's heartbeats reject once `failing()`: by default as a lock past the
 * busy timeout would, or with `error`.
 */
function failingBeats(stores: Stores, failing: () => boolean, error: () => Error = lockedBeat): Stores {
  const concurrency: ConcurrencyStore = {
    join: (request, clock) => stores.concurrency.join(request, clock),
    heartbeat: (memberId, clock) =>
      failing() ? Promise.reject(error()) : stores.concurrency.heartbeat(memberId, clock),
    release: (memberId, clock) => stores.concurrency.release(memberId, clock),
    releasePrefixed: (prefix, clock) => stores.concurrency.releasePrefixed(prefix, clock),
    watch: (group) => stores.concurrency.watch(group),
    list: (group) => stores.concurrency.list(group),
  };
  return { ...stores, concurrency };
}

/**
 * A control plane on `stores` with two runs of the deploy group: `holder` admitted, `waiter` behind it;
 * `ended` is how the waiter's run ends, its status or its error.
 */
async function waiterBehindHolder(stores: Stores, clock: ManualClock) {
  const plane = new ControlPlane(stores, { clock });
  const events: RunEvent[] = [];
  plane.onEvent((event) => events.push(event));
  const runner = new ScriptedRunner(plane, accepting, { capacity: 2 });
  const group = deployGroup();
  const holder = await plane.submitRun(deploy(), runRequest, { group });
  const waiter = await plane.submitRun(deploy(), runRequest, { group });
  if (holder.kind !== 'started' || waiter.kind !== 'started') throw new Error('not started');
  const ended = waiter.handle.done.then(
    (status) => status,
    (error: unknown) => error,
  );
  return { events, runner, holder, waiter, ended };
}

describe('ControlPlane: a run that waits for its workflow group', () => {
  const openPlane = planesOnSqlite('group-start');

  it('starts when the group admits it: its stored start and its duration leave the wait out', async () => {
    const clock = new ManualClock();
    const { plane: p, stores, events } = openPlane({ clock });
    const runner = new ScriptedRunner(p, accepting, { capacity: 2 });
    const group = deployGroup();
    const first = await p.submitRun(deploy(), runRequest, { group });
    const second = await p.submitRun(deploy(), runRequest, { group });
    if (first.kind !== 'started' || second.kind !== 'started') throw new Error('not started');
    const submittedAt = clock.now();
    await clock.advance(5_000);
    runner.complete(runner.of('lease')[0] as Lease);
    expect(await first.handle.done).toBe('succeeded');
    await clock.advance(400);
    const lease = runner.of('lease')[1];
    if (lease === undefined) throw new Error('the second run never started');
    const record = await stores.runs.getRun(second.handle.id);
    expect(record?.createdAt).toBe(submittedAt);
    const admittedAt = record?.startedAt ?? 0;
    expect(admittedAt).toBeGreaterThanOrEqual(submittedAt + 5_000);
    const started = events.find((e) => e.type === 'run.started' && e.runId === second.handle.id);
    expect(started).toMatchObject({ at: admittedAt });
    await clock.advance(1_000);
    runner.complete(lease);
    expect(await second.handle.done).toBe('succeeded');
    const completed = events.find((e) => e.type === 'run.completed' && e.runId === second.handle.id);
    const finishedAt = (await stores.runs.getRun(second.handle.id))?.finishedAt;
    expect(completed).toMatchObject({ durationMs: (finishedAt ?? 0) - admittedAt });
    expect(completed?.type === 'run.completed' && completed.durationMs).toBeLessThan(5_000);
  });

  it('given up when the store fails while it waits: not replaced nor cancelled, left for resume', async () => {
    const clock = new ManualClock();
    let failing = false;
    // The fixture's plane is left idle: this one drives the runs, on the same store, beats failing at will.
    const stores = failingBeats(openPlane({ clock }).stores, () => failing);
    const { events, runner, holder, waiter, ended } = await waiterBehindHolder(stores, clock);
    await clock.advance(500);
    expect(concurrencyStates(events, waiter.handle.id)).toEqual(['waiting']);
    failing = true;
    await clock.advance(500);
    await settle(20);
    const error = await ended;
    expect(error).toBeInstanceOf(ValkyrieError);
    expect(error).toMatchObject({ code: 'VK_STORE_LOCKED' });
    expect((error as Error).message).toBe(
      `run ${waiter.handle.id} stopped while it waited for concurrency group deploy: the store failed: could not beat: the file stayed locked`,
    );
    expect(concurrencyStates(events, waiter.handle.id)).toEqual(['waiting']);
    const record = await stores.runs.getRun(waiter.handle.id);
    expect(record).toMatchObject({ status: 'queued', concurrency: { group: 'deploy', state: 'waiting' } });
    expect(record?.startedAt).toBeUndefined();
    expect(await stores.runs.listJobs(waiter.handle.id)).toEqual([]);
    failing = false;
    runner.complete(runner.of('lease')[0] as Lease);
    expect(await holder.handle.done).toBe('succeeded');
  });

  it('ends with the error itself when joining or waiting fails for another reason than the store (a bug)', async () => {
    const clock = new ManualClock();
    let failing = false;
    const bug = new TypeError('a bug in the beat');
    const stores = failingBeats(
      openPlane({ clock }).stores,
      () => failing,
      () => bug,
    );
    const { runner, holder, ended } = await waiterBehindHolder(stores, clock);
    await clock.advance(500);
    failing = true;
    await clock.advance(500);
    await settle(20);
    // Not a store failure (VK_STORE, left for resume): the bug, as it was thrown.
    expect(await ended).toBe(bug);
    failing = false;
    runner.complete(runner.of('lease')[0] as Lease);
    expect(await holder.handle.done).toBe('succeeded');
  });
});
