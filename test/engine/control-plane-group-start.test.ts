import { describe, expect, it } from 'vitest';
import { resolveWorkflowGroup, type WorkflowGroup } from '../../src/engine/workflow-group.js';
import { ManualClock } from '../core/manual-clock.js';
import { parsedWorkflow, planesOnSqlite, runRequest } from './plane-fixtures.js';
import { accepting, type Lease, ScriptedRunner } from './scripted-runner.js';

const deploy = () =>
  parsedWorkflow('concurrency: deploy\njobs:\n  a:\n    runs-on: x\n    steps: [{ run: "true" }]\n');

function deployGroup(): WorkflowGroup {
  const group = resolveWorkflowGroup(deploy(), runRequest);
  if (group === undefined) throw new Error('no group');
  return group;
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
});
