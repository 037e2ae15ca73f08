import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ProcessOutcome } from '../../../src/core/outcome.js';
import type { OutputLine, StepProcess } from '../../../src/executors/contract.js';
import { autoLauncher, type ProcessLauncher } from '../../../src/executors/shell/launcher.js';
import { ProcessGroupRegistry } from '../../../src/executors/shell/process-group.js';
import { NodeSpawnerKind } from '../../../src/executors/shell/spawner/node-spawner.js';
import {
  findInterpreter,
  perlSpawnerSpec,
  pythonSpawnerSpec,
  ScriptSpawnerKind,
} from '../../../src/executors/shell/spawner/script-spawner.js';
import { SharedSpawner } from '../../../src/executors/shell/spawner/shared-spawner.js';
import type { SpawnerProcess } from '../../../src/executors/shell/spawner/spawner-process.js';
import { runStep } from '../../../src/executors/shell/step-run.js';
import { bashStep, isRunning, testKillPolicy, waitFor } from './helpers.js';

/**
 * Under `auto` the first steps start in the engine itself, while its spawner starts. A spawner stops
 * its own steps' process groups when the engine is gone (here: SIGTERM, as from an exiting engine);
 * it is handed the engine's groups too once it is ready (`adopt`), and drops each when its step has
 * ended (`forget`), since the number may then be reused.
 */
const kinds = [
  { name: 'Node', kind: () => new NodeSpawnerKind(), needs: undefined },
  { name: 'Perl', kind: () => new ScriptSpawnerKind(perlSpawnerSpec), needs: 'perl' },
  { name: 'Python', kind: () => new ScriptSpawnerKind(pythonSpawnerSpec), needs: 'python3' },
] as const;

const groups = new ProcessGroupRegistry();
const dir = mkdtempSync(join(tmpdir(), 'valkyrie-adopt-'));
afterEach(() => {
  groups.killAll();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(launcher: ProcessLauncher, step: StepProcess, onLine: (line: OutputLine) => void = () => {}) {
  return runStep(step, { signal: new AbortController().signal, onLine }, testKillPolicy, groups, launcher);
}

/** The first line `step` prints, while it goes on running. */
function firstLine(launcher: ProcessLauncher, step: StepProcess): [Promise<number>, Promise<ProcessOutcome>] {
  let report: (pid: number) => void = () => {};
  const line = new Promise<number>((resolve) => {
    report = resolve;
  });
  const outcome = run(launcher, step, (printed) => report(Number(printed.text)));
  return [line, outcome];
}

/** A process leading its own group, started by this test, not by any launcher. */
function groupLeader(): number {
  const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
  const pid = child.pid ?? 0;
  groups.add(pid);
  return pid;
}

/** Resolves once the spawner has read every request sent before: a spawn's reply comes after them. */
async function roundTrip(spawner: SpawnerProcess): Promise<void> {
  const step = bashStep('true');
  await new Promise<void>((drained) =>
    spawner.launch(step, {
      spawned() {},
      failed() {},
      output() {},
      exited() {},
      drained: () => drained(),
      lost: () => drained(),
    }),
  );
}

async function ready(shared: SharedSpawner): Promise<SpawnerProcess> {
  const spawner = await shared.whenReady();
  if (typeof spawner === 'string') throw new Error(spawner);
  return spawner;
}

describe.each(kinds)('the $name spawner', ({ kind, needs }) => {
  const missing = needs !== undefined && findInterpreter(needs) === undefined;

  it.skipIf(missing)('stops an adopted group when the engine is gone, and not one forgotten', async () => {
    const spawner = await ready(new SharedSpawner(kind()));
    const [kept, forgotten, own] = [groupLeader(), groupLeader(), groupLeader()];
    spawner.adopt(kept);
    spawner.adopt(forgotten);
    spawner.forget(forgotten);
    spawner.forget(own);
    await roundTrip(spawner);
    process.kill(spawner.pid ?? 0, 'SIGTERM');
    expect(await waitFor(() => !isRunning(kept), 3_000)).toBe(true);
    expect(await waitFor(() => spawner.isDead, 3_000)).toBe(true);
    expect(isRunning(forgotten) && isRunning(own)).toBe(true);
  });

  it.skipIf(missing)(
    'under `auto`, is handed the steps started in-process before it was ready, until they end',
    async () => {
      const shared = new SharedSpawner(kind());
      const auto = autoLauncher([shared]);
      const flag = join(dir, `${Math.random()}.flag`);
      // Both in-process: started in one tick, before the spawner (started by the first) can be ready.
      const [long] = firstLine(auto, bashStep('echo $$; sleep 30'));
      // Leaves a process in its group behind when it ends, after the spawner is ready.
      const [background, short] = firstLine(
        auto,
        bashStep(`sleep 30 >/dev/null 2>&1 & echo $!; while [ ! -e ${flag} ]; do sleep 0.01; done`),
      );
      const [longPid, backgroundPid] = [await long, await background];
      const spawner = await ready(shared);
      writeFileSync(flag, '');
      expect(await short).toEqual({ kind: 'exited', exitCode: 0 });
      await roundTrip(spawner);
      process.kill(spawner.pid ?? 0, 'SIGTERM');
      expect(await waitFor(() => !isRunning(longPid), 3_000)).toBe(true);
      expect(await waitFor(() => spawner.isDead, 3_000)).toBe(true);
      expect(isRunning(backgroundPid)).toBe(true);
    },
  );
});
