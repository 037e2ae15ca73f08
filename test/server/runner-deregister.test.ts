import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { type LocalRunners, RunnerDirectory } from '../../src/server/runner-directory.js';
import type { RunnerStore } from '../../src/store/runners.js';
import { settle } from '../core/manual-clock.js';
import { oneJobWorkflow, planesOnSqlite, runRequest } from '../engine/plane-fixtures.js';
import { accepting, completing, ScriptedRunner } from '../engine/scripted-runner.js';

const identity = { runnerId: 'rnr_1', transport: 'websocket' };
const fail = (error: unknown) => {
  throw error;
};

/** A replica with no runner of its own: it lists the fleet from the store only. */
function otherReplica(store: RunnerStore): RunnerDirectory {
  const none: LocalRunners = {
    runners: () => [],
    setRunnerMode: () => false,
    forgetRunners: () => {},
    runnersWithDetachedLeases: () => [],
    runnerConnectedElsewhere: () => {},
  };
  return new RunnerDirectory(store, () => none, 'replica-b', systemClock, 60_000, 86_400_000, fail);
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('a runner that deregisters (the protocol message, server side)', () => {
  const openPlane = planesOnSqlite('deregister');

  it('is written stopped before it is answered: another replica lists it so, mode kept; its lease goes at once', async () => {
    let directory: RunnerDirectory | undefined;
    const { plane, stores } = openPlane({
      leaseTtlMs: 600_000,
      recordRunnerStopped: (runnerId) => directory?.stopped(runnerId) ?? Promise.resolve(),
    });
    // Polls a minute apart: whatever the store says below was written for the deregistration itself.
    directory = new RunnerDirectory(
      stores.runners,
      () => plane,
      'replica-a',
      systemClock,
      60_000,
      86_400_000,
      fail,
    );
    const b = otherReplica(stores.runners);
    const runner = new ScriptedRunner(plane, accepting, { identity });
    await settle();
    const handle = await plane.startRun(oneJobWorkflow(), runRequest);
    await settle();
    expect(runner.of('lease')).toHaveLength(1);
    await directory.sync();
    await directory.setMode('rnr_1', 'maintenance');
    expect((await b.list())[0]).toMatchObject({ id: 'rnr_1', connected: true, mode: 'maintenance' });

    runner.send({ type: 'deregister', reason: 'SIGTERM' });
    await until(() => runner.of('deregistered').length > 0);
    expect(runner.of('deregistered')).toEqual([{ type: 'deregistered' }]);
    const listed = (await b.list())[0];
    expect(listed).toMatchObject({ id: 'rnr_1', connected: false, mode: 'maintenance' });
    expect(listed?.stoppedAt).toBeGreaterThan(0);
    expect(plane.runners()[0]).toMatchObject({ connected: false, mode: 'maintenance', running: 0 });
    expect(plane.runners()[0]?.stoppedAt).toBeGreaterThan(0);
    // A runner that said it is leaving does not come back for its lease: no wait for the TTL.
    new ScriptedRunner(plane, completing);
    expect(await handle.done).toBe('succeeded');
    runner.end.close('runner stopped');

    // The same credential starts again: connected, still in maintenance, no longer stopped.
    new ScriptedRunner(plane, accepting, { identity });
    await settle();
    await directory.sync();
    const back = (await b.list())[0];
    expect(back).toMatchObject({ connected: true, mode: 'maintenance' });
    expect(back?.stoppedAt).toBeUndefined();
    expect(plane.runners()[0]?.stoppedAt).toBeUndefined();
    await directory.stop();
  });

  it('a runner without identity is answered too, and forgotten like any closed one', async () => {
    const { plane } = openPlane();
    const runner = new ScriptedRunner(plane, accepting);
    await settle();
    runner.send({ type: 'deregister', reason: 'SIGTERM' });
    await until(() => runner.of('deregistered').length > 0);
    expect(runner.of('deregistered')).toHaveLength(1);
    expect(plane.runners()).toEqual([]);
  });
});
