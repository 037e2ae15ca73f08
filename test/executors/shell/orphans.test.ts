import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ShellExecutor, type StoppedOrphan } from '../../../src/executors/shell/index.js';
import {
  newTrackingId,
  sweepOrphans,
  sweepOrphansOf,
  trackingVariable,
} from '../../../src/executors/shell/orphans.js';
import { isRunning as alive, bashStep, pathOnly, runCollecting, waitFor } from './helpers.js';

/** A process in a session of its own, as a daemon is, with `env` as its whole environment. */
function daemon(env: Record<string, string>): ChildProcess {
  const child = spawn('sleep', ['60'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return child;
}

const started: ChildProcess[] = [];
const strays: number[] = [];
const scratch: string[] = [];
afterEach(() => {
  for (const child of started.splice(0))
    if (child.pid !== undefined && alive(child.pid)) child.kill('SIGKILL');
  for (const pid of strays.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const byPid = (a: StoppedOrphan, b: StoppedOrphan) => a.pid - b.pid;

describe.skipIf(process.platform !== 'linux')('sweeping the processes a job left running', () => {
  it('stops every process carrying a swept job’s mark, wherever it is in the environment, and no other; tells each job its own', async () => {
    const job = newTrackingId();
    const neighbour = newTrackingId();
    const other = newTrackingId();
    const first = daemon({ [trackingVariable]: job });
    const later = daemon({ A: '1', [trackingVariable]: job, Z: '2' });
    const theirs = daemon({ B: '1', [trackingVariable]: neighbour });
    const kept = daemon({ [trackingVariable]: other });
    const cleared = daemon({ [trackingVariable]: '' });
    // Prefixes of the mark must not match: another job's id that starts with this one's.
    const longer = daemon({ [trackingVariable]: `${job}0` });
    started.push(first, later, theirs, kept, cleared, longer);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const told: [string, StoppedOrphan[]][] = [];
    sweepOrphansOf(job, (stopped) => told.push(['job', [...stopped].sort(byPid)]));
    sweepOrphansOf(neighbour, (stopped) => told.push(['neighbour', [...stopped]]));
    // A job that left nothing is told nothing.
    sweepOrphansOf(newTrackingId(), (stopped) => told.push(['idle', [...stopped]]));
    const stoppedOf = (...children: ChildProcess[]) =>
      children.map((child) => ({ pid: child.pid ?? 0, name: 'sleep' })).sort(byPid);
    expect(sweepOrphans().sort(byPid)).toEqual(stoppedOf(first, later, theirs));
    expect(told.sort(([a], [b]) => a.localeCompare(b))).toEqual([
      ['job', stoppedOf(first, later)],
      ['neighbour', stoppedOf(theirs)],
    ]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect([first, later, theirs, kept, cleared, longer].map((child) => alive(child.pid ?? 0))).toEqual([
      false,
      false,
      false,
      true,
      true,
      true,
    ]);
    // Swept once: nothing is pending any more.
    expect(sweepOrphans()).toEqual([]);
  });

  it('stops what a job left, by its timer, within a fraction of a second of cleanup() in a process that lives on, and says which it stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-orphans-'));
    scratch.push(dir);
    const told: StoppedOrphan[][] = [];
    const executor = new ShellExecutor({ onOrphansStopped: (stopped) => told.push([...stopped]) });
    const pidFile = join(dir, 'daemon.pid');
    const step = bashStep(
      `setsid sh -c 'echo $$ > daemon.pid; exec sleep 61' > /dev/null 2>&1 < /dev/null &
       while [ ! -s daemon.pid ]; do sleep 0.02; done`,
      { cwd: dir, env: { ...pathOnly, [trackingVariable]: executor.trackingId } },
    );
    const { outcome } = await runCollecting(executor, step);
    expect(outcome).toEqual({ kind: 'exited', exitCode: 0 });
    const daemonPid = Number(readFileSync(pidFile, 'utf8').trim());
    strays.push(daemonPid);
    // Out of the step's process group: the group's SIGKILL in cleanup() does not reach it.
    await executor.cleanup();
    const cleanedAt = Date.now();
    expect(alive(daemonPid)).toBe(true);
    // Nothing here sweeps and this process does not exit: only the sweep's timer can stop it.
    expect(await waitFor(() => !alive(daemonPid), 1_000)).toBe(true);
    expect(Date.now() - cleanedAt).toBeLessThan(1_000);
    expect(told).toEqual([[{ pid: daemonPid, name: 'sleep' }]]);
  });
});
