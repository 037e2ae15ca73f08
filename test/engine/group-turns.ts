import { expect } from 'vitest';
import type { RunId } from '../../src/core/ids.js';
import type { RunHandle } from '../../src/engine/control-plane.js';
import type { ManualClock } from '../core/manual-clock.js';
import { eventually } from './plane-fixtures.js';
import type { Lease, ScriptedRunner } from './scripted-runner.js';

/** The leases `runner` was given for the jobs of `runId`. */
export const leasesOf = (runner: ScriptedRunner, runId: RunId): Lease[] =>
  runner.of('lease').filter((lease) => lease.jobId.startsWith(`${runId}.`));

/**
 * Two one-job runs of one concurrency group run in turn: `first`, already leased, completes; only
 * then is `second` leased (the manual clock moved on until it is), and it completes too.
 */
export async function runsInTurn(
  clock: ManualClock,
  runner: ScriptedRunner,
  first: RunHandle,
  second: RunHandle,
): Promise<void> {
  runner.complete(leasesOf(runner, first.id)[0] as Lease);
  expect(await first.done).toBe('succeeded');
  await eventually('the second run leased', async () => {
    await clock.advance(200);
    return leasesOf(runner, second.id).length === 1;
  });
  runner.complete(leasesOf(runner, second.id)[0] as Lease);
  expect(await second.done).toBe('succeeded');
}
