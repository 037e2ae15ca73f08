import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ownProcessGroup, signalGroup } from '../../../src/executors/shell/process-group.js';

describe('signalGroup', () => {
  it('never signals its own group or every process: 0, 1, our own group, negative and non-integer ids are refused', () => {
    let terminated = false;
    const onTerm = () => {
      terminated = true;
    };
    process.on('SIGTERM', onTerm);
    try {
      for (const pgid of [0, 1, -5, Number.NaN, 2.5, ownProcessGroup()])
        expect(signalGroup(pgid, 'SIGTERM')).toBe(false);
    } finally {
      process.off('SIGTERM', onTerm);
    }
    expect(terminated).toBe(false);
  });

  it("reads this process's own group id", async () => {
    const { execFileSync } = await import('node:child_process');
    const fromPs = Number(
      execFileSync('ps', ['-o', 'pgid=', '-p', String(process.pid)], { encoding: 'utf8' }).trim(),
    );
    expect(ownProcessGroup()).toBe(fromPs);
  });

  it("signals a real group's members and then reports it gone", async () => {
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const pid = child.pid;
    if (pid === undefined) throw new Error('sleep did not start');
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_, signal) => resolve(signal)),
    );
    expect(signalGroup(pid, 0)).toBe(true);
    expect(signalGroup(pid, 'SIGKILL')).toBe(true);
    expect(await exited).toBe('SIGKILL');
    expect(signalGroup(pid, 0)).toBe(false);
  });
});
