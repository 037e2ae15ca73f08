import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Fleet,
  type FleetRunner,
  lines,
  runRequest as request,
  sideEffectWorkflow,
  startFleet,
  startRunner,
  until,
} from './fleet-harness.js';

describe('a runner over real transports', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function fleetWithRunner(capacity: number): Promise<{ fleet: Fleet; runner: FleetRunner }> {
    const fleet = await startFleet({ leaseTtlMs: 3_000 });
    cleanups.push(() => fleet.close());
    const runner = await startRunner(fleet, { runnerId: 'rnr_a', capacity });
    cleanups.push(async () => {
      runner.transport.close();
      await runner.agent.drain();
    });
    return { fleet, runner };
  }

  it('continues over HTTP when the WebSocket is cut mid-job: every job completes exactly once', async () => {
    const { fleet, runner } = await fleetWithRunner(4);
    expect(runner.transport.kind).toBe('websocket');
    const out = fleet.dir;
    const handle = await fleet.plane.startRun(sideEffectWorkflow(out, 4, 1.5), request(out));
    await until(() => lines(join(out, 'started.log')).length === 4, 'all four jobs to start');
    fleet.blockWebSockets(true);
    fleet.cutWebSockets();
    await until(() => runner.transport.kind === 'long-poll', 'the runner to move to long-poll');
    expect(await handle.done).toBe('succeeded');

    const started = lines(join(out, 'started.log'));
    expect(started.map((line) => line.split(' ')[0]).sort()).toEqual(['job-1', 'job-2', 'job-3', 'job-4']);
    expect(lines(join(out, 'finished.log')).sort()).toEqual(['job-1', 'job-2', 'job-3', 'job-4']);
    // Each job ran in its own directory under the runner's work dir.
    const dirs = new Set(started.map((line) => line.split(' ')[1]));
    expect(dirs.size).toBe(4);
    for (const dir of dirs) expect(dir?.startsWith(join(runner.workDir, 'jobs'))).toBe(true);
    for (const dir of dirs) expect(existsSync(dir ?? '')).toBe(false);

    expect(runner.switches.map(({ from, to }) => `${from}->${to}`)).toEqual(['websocket->long-poll']);
    expect(fleet.events.filter((e) => e.type === 'job.started')).toHaveLength(4);
    expect(fleet.events.filter((e) => e.type === 'job.queued')).toHaveLength(4);
    expect(await fleet.stores.staleWrites.list()).toEqual([]);
    const jobs = await fleet.stores.runs.listJobs(handle.id);
    expect(jobs.map((job) => job.status)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(fleet.plane.runners()).toEqual([
      expect.objectContaining({ id: 'rnr_a', connected: true, transport: 'long-poll', running: 0 }),
    ]);
  });

  it('moves back to the WebSocket mid-job and still runs every job once', async () => {
    const { fleet, runner } = await fleetWithRunner(3);
    const out = fleet.dir;
    const handle = await fleet.plane.startRun(sideEffectWorkflow(out, 6, 1), request(out));
    await until(() => lines(join(out, 'started.log')).length >= 3, 'the first jobs to start');
    fleet.blockWebSockets(true);
    fleet.cutWebSockets();
    await until(() => runner.transport.kind === 'long-poll', 'the runner to move to long-poll');
    fleet.blockWebSockets(false);
    await until(() => runner.switches.length === 2, 'the runner to move back to the WebSocket');
    expect(await handle.done).toBe('succeeded');
    expect(runner.switches.map(({ from, to }) => `${from}->${to}`)).toEqual([
      'websocket->long-poll',
      'long-poll->websocket',
    ]);
    const expected = ['job-1', 'job-2', 'job-3', 'job-4', 'job-5', 'job-6'];
    expect(
      lines(join(out, 'started.log'))
        .map((line) => line.split(' ')[0])
        .sort(),
    ).toEqual(expected);
    expect(lines(join(out, 'finished.log')).sort()).toEqual(expected);
    expect(fleet.events.filter((e) => e.type === 'job.started')).toHaveLength(6);
    expect(await fleet.stores.staleWrites.list()).toEqual([]);
  });
});
