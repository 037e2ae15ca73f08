import { type ChildProcess, spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import {
  newTrackingId,
  sweepOrphans,
  sweepOrphansOf,
  trackingVariable,
} from '../../../src/executors/shell/orphans.js';
import { isRunning as alive } from './helpers.js';

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
afterEach(() => {
  for (const child of started.splice(0))
    if (child.pid !== undefined && alive(child.pid)) child.kill('SIGKILL');
});

describe.skipIf(process.platform !== 'linux')('sweeping the processes a job left running', () => {
  it('stops every process carrying a swept job’s mark, wherever it is in the environment, and no other', async () => {
    const job = newTrackingId();
    const other = newTrackingId();
    const first = daemon({ [trackingVariable]: job });
    const later = daemon({ A: '1', [trackingVariable]: job, Z: '2' });
    const kept = daemon({ [trackingVariable]: other });
    const cleared = daemon({ [trackingVariable]: '' });
    // Prefixes of the mark must not match: another job's id that starts with this one's.
    const longer = daemon({ [trackingVariable]: `${job}0` });
    started.push(first, later, kept, cleared, longer);
    await new Promise((resolve) => setTimeout(resolve, 50));
    sweepOrphansOf(job);
    const killed = sweepOrphans();
    expect(killed.sort()).toEqual([first.pid, later.pid].sort());
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect([first, later, kept, cleared, longer].map((child) => alive(child.pid ?? 0))).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
    // Swept once: nothing is pending any more.
    expect(sweepOrphans()).toEqual([]);
  });
});
