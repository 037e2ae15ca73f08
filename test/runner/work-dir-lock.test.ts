import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isZombie, processStartTicks } from '../../src/platform/proc-stat.js';
import { acquireWorkDirLock } from '../../src/runner/work-dir-lock.js';

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

/**
 * A child of a process that never waits for it, once it has exited: `bash` starts it in the
 * background, then becomes a `sleep` that never reaps it, so it stays a zombie until `parent` dies.
 * It outlives bash's own wait for it by half a second: bash would reap it if it ended first.
 */
async function unreapedPid(): Promise<{ pid: number; parent: ChildProcess }> {
  const parent = spawn('bash', ['-c', 'sleep 0.5 & echo $!; exec sleep 30'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [line] = await once(parent.stdout, 'data');
  const pid = Number(String(line).trim());
  for (let i = 0; i < 500 && !isZombie(pid); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(isZombie(pid)).toBe(true);
  return { pid, parent };
}

describe('work dir lock', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  function workDir(): string {
    const dir = mkdtempSync(join(tmpdir(), 'valkyrie-lock-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return join(dir, 'work');
  }

  function acquired(dir: string) {
    const outcome = acquireWorkDirLock(dir);
    if (outcome.kind !== 'acquired') throw new Error(`expected the lock, got ${JSON.stringify(outcome)}`);
    cleanups.push(() => outcome.lock.release());
    return outcome;
  }

  it('creates the work dir and a lock naming this process; a second taker is refused with the holder', () => {
    const dir = workDir();
    const first = acquired(dir);
    expect(first.tookOverFrom).toBeUndefined();
    const written = JSON.parse(readFileSync(join(dir, 'runner.lock'), 'utf8'));
    expect(written).toMatchObject({ pid: process.pid, host: hostname() });
    if (process.platform === 'linux') expect(written.startTicks).toMatch(/^\d+$/);

    const second = acquireWorkDirLock(dir);
    expect(second).toMatchObject({
      kind: 'held',
      file: join(dir, 'runner.lock'),
      holder: { pid: process.pid },
    });

    first.lock.release();
    expect(existsSync(join(dir, 'runner.lock'))).toBe(false);
    first.lock.release();
    acquired(dir);
  });

  it('takes over a lock whose process is gone', () => {
    const dir = workDir();
    const pid = deadPid();
    acquired(dir).lock.release();
    writeFileSync(
      join(dir, 'runner.lock'),
      JSON.stringify({ pid, host: hostname(), since: '2020-01-01T00:00:00.000Z' }),
    );
    const outcome = acquired(dir);
    expect(outcome.tookOverFrom).toMatchObject({ pid });
    expect(JSON.parse(readFileSync(join(dir, 'runner.lock'), 'utf8')).pid).toBe(process.pid);
  });

  it.runIf(process.platform === 'linux')(
    'takes over a lock whose pid now belongs to a process that started at another time (pid reuse)',
    () => {
      const dir = workDir();
      const ticks = processStartTicks(process.pid);
      expect(ticks).toMatch(/^\d+$/);
      acquired(dir).lock.release();
      writeFileSync(
        join(dir, 'runner.lock'),
        JSON.stringify({
          pid: process.pid,
          startTicks: `${Number(ticks) + 1}`,
          host: hostname(),
          since: 'x',
        }),
      );
      expect(acquired(dir).tookOverFrom).toMatchObject({ pid: process.pid });
    },
  );

  // A runner killed with SIGKILL a moment ago, whose parent has not reaped it yet, still answers
  // signal 0: a runner started again at once must not be refused by it.
  it.runIf(process.platform === 'linux')(
    'takes over a lock whose process has exited but is not reaped yet',
    async () => {
      const dir = workDir();
      const zombie = await unreapedPid();
      try {
        acquired(dir).lock.release();
        const startTicks = processStartTicks(zombie.pid);
        writeFileSync(
          join(dir, 'runner.lock'),
          JSON.stringify({ pid: zombie.pid, startTicks, host: hostname(), since: 'x' }),
        );
        expect(acquired(dir).tookOverFrom).toMatchObject({ pid: zombie.pid });
      } finally {
        zombie.parent.kill('SIGKILL');
      }
    },
  );

  it('takes over a lock it cannot read, and never judges one from another host stale', () => {
    const dir = workDir();
    acquired(dir).lock.release();
    writeFileSync(join(dir, 'runner.lock'), 'garbage');
    acquired(dir).lock.release();
    const pid = deadPid();
    writeFileSync(join(dir, 'runner.lock'), JSON.stringify({ pid, host: 'elsewhere', since: 'x' }));
    expect(acquireWorkDirLock(dir)).toMatchObject({ kind: 'held', holder: { pid, host: 'elsewhere' } });
  });

  it('does not remove a lock that is no longer its own when released', () => {
    const dir = workDir();
    const { lock } = acquired(dir);
    const other = JSON.stringify({ pid: 1, host: 'elsewhere', since: 'x' });
    writeFileSync(join(dir, 'runner.lock'), other);
    lock.release();
    expect(readFileSync(join(dir, 'runner.lock'), 'utf8')).toBe(other);
  });
});
