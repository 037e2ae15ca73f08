import { afterEach, describe, expect, it } from 'vitest';
import type { OutputLine } from '../../../src/executors/contract.js';
import { type LauncherChoice, ShellExecutor } from '../../../src/executors/shell/index.js';
import { SharedSpawner, sharedSpawner } from '../../../src/executors/shell/spawner/shared-spawner.js';
import { bashStep, isRunning, runCollecting, testKillPolicy, textOf, waitFor } from './helpers.js';

// Each test file runs in its own process, so the deaths here count against this file's spawner
// only. More than three within a minute stop restarts (tested on a private SharedSpawner below).

const executors: ShellExecutor[] = [];
function make(launcher: LauncherChoice): ShellExecutor {
  const executor = new ShellExecutor({ killPolicy: testKillPolicy, launcher });
  executors.push(executor);
  return executor;
}

afterEach(async () => {
  await Promise.all(executors.splice(0).map((executor) => executor.cleanup()));
});

async function readyPid(spawners: SharedSpawner = sharedSpawner): Promise<number> {
  const spawner = await spawners.whenReady();
  if (typeof spawner === 'string') throw new Error(spawner);
  const pid = spawner.pid;
  if (pid === undefined) throw new Error('the spawner has no pid');
  return pid;
}

async function parentOfStep(executor: ShellExecutor): Promise<number> {
  const { outcome, lines } = await runCollecting(executor, bashStep('echo $PPID'));
  expect(outcome).toEqual({ kind: 'exited', exitCode: 0 });
  return Number(textOf(lines, 'stdout')[0]);
}

/** Kills the spawner with SIGKILL when the step prints its pid, and remembers that pid. */
function killSpawnerOnFirstLine(spawnerPid: number, stepPids: number[]): (line: OutputLine) => void {
  return (line) => {
    if (stepPids.length > 0) return;
    stepPids.push(Number(line.text));
    process.kill(spawnerPid, 'SIGKILL');
  };
}

describe('a spawner that dies under a running step', () => {
  it('reports the step lost, kills its process, and restarts for the next step', async () => {
    const spawnerPid = await readyPid();
    const executor = make('spawner');
    const stepPids: number[] = [];
    const { outcome, elapsedMs } = await runCollecting(executor, bashStep('echo $$; sleep 30'), {
      onLine: killSpawnerOnFirstLine(spawnerPid, stepPids),
    });
    expect(outcome).toEqual({
      kind: 'failed_to_start',
      message: expect.stringMatching(
        new RegExp(
          `^lost "bash" \\(process group \\d+\\) while it ran, and killed it: the process spawner \\(pid ${spawnerPid}\\) was killed by SIGKILL$`,
        ),
      ),
    });
    expect(elapsedMs).toBeLessThan(2_000);
    const [stepPid = 0] = stepPids;
    expect(await waitFor(() => !isRunning(stepPid), 500)).toBe(true);

    const restartedPid = await parentOfStep(executor);
    expect(restartedPid).not.toBe(spawnerPid);
    expect(restartedPid).toBe(sharedSpawner.pid);
  });

  it('in `auto`, runs the next steps in-process at once, then on the restarted spawner', async () => {
    const spawnerPid = await readyPid();
    const executor = make('auto');
    const { outcome } = await runCollecting(executor, bashStep('echo $$; sleep 30'), {
      onLine: killSpawnerOnFirstLine(spawnerPid, []),
    });
    expect(outcome.kind).toBe('failed_to_start');
    expect(await parentOfStep(executor)).toBe(process.pid);
    const restartedPid = await readyPid();
    expect(restartedPid).not.toBe(spawnerPid);
    expect(await parentOfStep(executor)).toBe(restartedPid);
  });

  it('still reports a cancellation in progress as cancelled', async () => {
    const spawnerPid = await readyPid();
    const controller = new AbortController();
    const stepPids: number[] = [];
    const kill = killSpawnerOnFirstLine(spawnerPid, stepPids);
    const { outcome } = await runCollecting(
      make('spawner'),
      bashStep("trap '' INT; echo $$; while :; do sleep 0.02; done"),
      {
        signal: controller.signal,
        onLine: (line) => {
          controller.abort('stop');
          setTimeout(() => kill(line), 50);
        },
      },
    );
    expect(outcome).toEqual({ kind: 'cancelled', reason: 'stop' });
    const [stepPid = 0] = stepPids;
    expect(await waitFor(() => !isRunning(stepPid), 500)).toBe(true);
  });
});

describe('a spawner that keeps dying', () => {
  it('is not restarted after three deaths within a minute', async () => {
    const spawners = new SharedSpawner();
    for (let death = 1; death <= 3; death += 1) {
      const pid = await readyPid(spawners);
      process.kill(pid, 'SIGKILL');
      expect(await waitFor(() => spawners.pid !== pid, 2_000)).toBe(true);
    }
    expect(spawners.warmUp()).toBeUndefined();
    expect(await spawners.whenReady()).toBe('the process spawner died 3 times in the last 60 s');
  });
});
