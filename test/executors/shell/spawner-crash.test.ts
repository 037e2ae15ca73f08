import { afterEach, describe, expect, it } from 'vitest';
import type { ProcessOutcome } from '../../../src/core/outcome.js';
import type { OutputLine, StepProcess } from '../../../src/executors/contract.js';
import { ShellExecutor } from '../../../src/executors/shell/index.js';
import { autoLauncher } from '../../../src/executors/shell/launcher.js';
import { ProcessGroupRegistry } from '../../../src/executors/shell/process-group.js';
import { NodeSpawnerKind } from '../../../src/executors/shell/spawner/node-spawner.js';
import {
  perlSpawnerSpec,
  pythonSpawnerSpec,
  ScriptSpawnerKind,
} from '../../../src/executors/shell/spawner/script-spawner.js';
import {
  SharedSpawner,
  sharedPerlSpawner,
  sharedPythonSpawner,
  sharedSpawner,
} from '../../../src/executors/shell/spawner/shared-spawner.js';
import { runStep } from '../../../src/executors/shell/step-run.js';
import { bashStep, isRunning, runCollecting, testKillPolicy, textOf, waitFor } from './helpers.js';

// Each test file runs in its own process, so the deaths here count against this file's spawners
// only: three per kind. More than three within a minute stop restarts (tested on private ones below).

const spawnerKinds = [
  { launcher: 'spawner', shared: sharedSpawner, label: 'the process spawner' },
  { launcher: 'perl-spawner', shared: sharedPerlSpawner, label: 'the Perl process spawner' },
  { launcher: 'python-spawner', shared: sharedPythonSpawner, label: 'the Python process spawner' },
] as const;

const executors: ShellExecutor[] = [];
const autoGroups = new ProcessGroupRegistry();

afterEach(async () => {
  await Promise.all(executors.splice(0).map((executor) => executor.cleanup()));
  autoGroups.killAll();
});

async function readyPid(spawners: SharedSpawner): Promise<number> {
  const spawner = await spawners.whenReady();
  if (typeof spawner === 'string') throw new Error(spawner);
  const pid = spawner.pid;
  if (pid === undefined) throw new Error('the spawner has no pid');
  return pid;
}

/** Kills the spawner with SIGKILL when the step prints its pid, and remembers that pid. */
function killSpawnerOnFirstLine(spawnerPid: number, stepPids: number[]): (line: OutputLine) => void {
  return (line) => {
    if (stepPids.length > 0) return;
    stepPids.push(Number(line.text));
    process.kill(spawnerPid, 'SIGKILL');
  };
}

describe.each(spawnerKinds)('a $launcher that dies under a running step', ({ launcher, shared, label }) => {
  function make(): ShellExecutor {
    const executor = new ShellExecutor({ killPolicy: testKillPolicy, launcher });
    executors.push(executor);
    return executor;
  }

  /** `auto` with only this kind of spawner to prefer. */
  const auto = autoLauncher([shared]);
  function runAuto(
    step: StepProcess,
    onLine: (line: OutputLine) => void = () => {},
  ): Promise<ProcessOutcome> {
    const signal = new AbortController().signal;
    return runStep(step, { signal, onLine }, testKillPolicy, autoGroups, auto);
  }

  async function parentOfAutoStep(): Promise<number> {
    const lines: OutputLine[] = [];
    const outcome = await runAuto(bashStep('echo $PPID'), (line) => lines.push(line));
    expect(outcome).toEqual({ kind: 'exited', exitCode: 0 });
    return Number(textOf(lines, 'stdout')[0]);
  }

  it('reports the step lost, kills its process, and restarts for the next step', async () => {
    const spawnerPid = await readyPid(shared);
    const executor = make();
    const stepPids: number[] = [];
    const { outcome, elapsedMs } = await runCollecting(executor, bashStep('echo $$; sleep 30'), {
      onLine: killSpawnerOnFirstLine(spawnerPid, stepPids),
    });
    expect(outcome).toEqual({
      kind: 'failed_to_start',
      message: expect.stringMatching(
        new RegExp(
          `^lost "bash" \\(process group \\d+\\) while it ran, and killed it: ${label} \\(pid ${spawnerPid}\\) was killed by SIGKILL$`,
        ),
      ),
    });
    expect(elapsedMs).toBeLessThan(2_000);
    const [stepPid = 0] = stepPids;
    expect(await waitFor(() => !isRunning(stepPid), 500)).toBe(true);

    const next = await runCollecting(executor, bashStep('echo $PPID'));
    const restartedPid = Number(textOf(next.lines, 'stdout')[0]);
    expect(restartedPid).not.toBe(spawnerPid);
    expect(restartedPid).toBe(shared.pid);
  });

  it('in `auto`, runs the next steps in-process at once, then on the restarted spawner', async () => {
    const spawnerPid = await readyPid(shared);
    const outcome = await runAuto(bashStep('echo $$; sleep 30'), killSpawnerOnFirstLine(spawnerPid, []));
    expect(outcome.kind).toBe('failed_to_start');
    expect(await parentOfAutoStep()).toBe(process.pid);
    const restartedPid = await readyPid(shared);
    expect(restartedPid).not.toBe(spawnerPid);
    expect(await parentOfAutoStep()).toBe(restartedPid);
  });

  it('still reports a cancellation in progress as cancelled', async () => {
    const spawnerPid = await readyPid(shared);
    const controller = new AbortController();
    const stepPids: number[] = [];
    const kill = killSpawnerOnFirstLine(spawnerPid, stepPids);
    const { outcome } = await runCollecting(
      make(),
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

describe.each([
  { name: 'Node', kind: () => new NodeSpawnerKind(), label: 'the process spawner' },
  { name: 'Perl', kind: () => new ScriptSpawnerKind(perlSpawnerSpec), label: 'the Perl process spawner' },
  {
    name: 'Python',
    kind: () => new ScriptSpawnerKind(pythonSpawnerSpec),
    label: 'the Python process spawner',
  },
])('a $name spawner that keeps dying', ({ kind, label }) => {
  it('is not restarted after three deaths within a minute', async () => {
    const spawners = new SharedSpawner(kind());
    for (let death = 1; death <= 3; death += 1) {
      const pid = await readyPid(spawners);
      process.kill(pid, 'SIGKILL');
      expect(await waitFor(() => spawners.pid !== pid, 2_000)).toBe(true);
    }
    expect(spawners.warmUp()).toBeUndefined();
    expect(await spawners.whenReady()).toBe(`${label} died 3 times in the last 60 s`);
  });
});
