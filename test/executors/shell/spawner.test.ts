import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type LauncherChoice, ShellExecutor } from '../../../src/executors/shell/index.js';
import {
  type SharedSpawner,
  sharedPerlSpawner,
  sharedPythonSpawner,
  sharedSpawner,
} from '../../../src/executors/shell/spawner/shared-spawner.js';
import { bashStep, isRunning, runCollecting, testKillPolicy, textOf, waitFor } from './helpers.js';

const root = resolve(import.meta.dirname, '../../..');
const sources = join(root, 'src/executors/shell/spawner');
const built = join(root, 'dist/executors/shell/spawner');

const executors: ShellExecutor[] = [];
function make(launcher: LauncherChoice): ShellExecutor {
  const executor = new ShellExecutor({ killPolicy: testKillPolicy, launcher });
  executors.push(executor);
  return executor;
}

afterEach(async () => {
  await Promise.all(executors.splice(0).map((executor) => executor.cleanup()));
});

async function readySpawnerPid(shared: SharedSpawner): Promise<number> {
  const spawner = await shared.whenReady();
  if (typeof spawner === 'string') throw new Error(spawner);
  const pid = spawner.pid;
  if (pid === undefined) throw new Error('the spawner has no pid');
  return pid;
}

/** The pid of the process that forked the step, as the step sees it. */
async function parentOfStep(executor: ShellExecutor): Promise<number> {
  const { outcome, lines } = await runCollecting(executor, bashStep('echo $PPID'));
  expect(outcome).toEqual({ kind: 'exited', exitCode: 0 });
  return Number(textOf(lines, 'stdout')[0]);
}

describe('the spawner process', () => {
  it('is built from the current sources (run npm run build after editing them)', () => {
    for (const file of readdirSync(sources)) {
      const output = join(built, file.replace(/\.ts$/, '.js'));
      expect(statSync(output).mtimeMs).toBeGreaterThanOrEqual(statSync(join(sources, file)).mtimeMs);
    }
  });

  it('starts the steps of spawner executors there, `auto` ones in Python; `in-process` ones here', async () => {
    const spawnerPid = await readySpawnerPid(sharedSpawner);
    const perlPid = await readySpawnerPid(sharedPerlSpawner);
    const pythonPid = await readySpawnerPid(sharedPythonSpawner);
    expect(new Set([spawnerPid, perlPid, pythonPid, process.pid]).size).toBe(4);
    expect(await parentOfStep(make('spawner'))).toBe(spawnerPid);
    expect(await parentOfStep(make('perl-spawner'))).toBe(perlPid);
    expect(await parentOfStep(make('python-spawner'))).toBe(pythonPid);
    expect(await parentOfStep(make('in-process'))).toBe(process.pid);
    expect(await parentOfStep(make('auto'))).toBe(pythonPid);
  });

  it('keeps an engine that waits for it alive until it hears that it died before it was ready', async () => {
    // Nothing else keeps this engine alive: the dying spawner's closed stdout must not end it early.
    const child = node(`
      import { writeFileSync } from 'node:fs';
      import { ScriptSpawnerKind, perlSpawnerSpec } from './dist/executors/shell/spawner/script-spawner.js';
      import { SharedSpawner } from './dist/executors/shell/spawner/shared-spawner.js';
      const script = '${join(tmpdir(), `valkyrie-dies-${process.pid}.pl`)}';
      writeFileSync(script, 'exit 3;');
      const dying = new SharedSpawner(new ScriptSpawnerKind(perlSpawnerSpec, () => ({ interpreter: 'perl', script })));
      console.log(JSON.stringify(await dying.whenReady()));
    `);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(JSON.parse(await firstLine(child))).toBe('the Perl process spawner died 3 times in the last 60 s');
    expect(await exited).toBe(0);
  });

  it('is not started by an `auto` executor until its first step', async () => {
    const child = node(`
      import { ShellExecutor, warmUpSpawner } from './dist/executors/shell/index.js';
      import { sharedPythonSpawner } from './dist/executors/shell/spawner/shared-spawner.js';
      warmUpSpawner();
      const executor = new ShellExecutor({ launcher: 'auto' });
      const before = sharedPythonSpawner.pid;
      await executor.run(
        { command: 'true', args: [], cwd: '/', env: { PATH: process.env.PATH }, timeoutMs: 0 },
        { signal: new AbortController().signal, onLine: () => {} },
      );
      console.log(JSON.stringify({ before: before ?? null, after: sharedPythonSpawner.pid ?? null }));
    `);
    const report = JSON.parse(await firstLine(child));
    expect(report.before).toBeNull();
    expect(report.after).toBeGreaterThan(1);
  });

  it('is started by warmUpSpawner({ manySteps: true }) for `auto`, before any step', async () => {
    const child = node(`
      import { warmUpSpawner } from './dist/executors/shell/index.js';
      import { sharedPythonSpawner } from './dist/executors/shell/spawner/shared-spawner.js';
      warmUpSpawner({ manySteps: true });
      const started = sharedPythonSpawner.pid;
      const ready = await sharedPythonSpawner.whenReady();
      console.log(JSON.stringify({ started: started ?? null, ready: typeof ready === 'string' ? ready : ready.pid }));
    `);
    const report = JSON.parse(await firstLine(child));
    expect(report.started).toBeGreaterThan(1);
    expect(report.ready).toBe(report.started);
  });

  it.each(['spawner', 'perl-spawner', 'python-spawner'] as const)(
    '(%s) carries output that arrives faster than it is consumed, all of it and in order',
    async (launcher) => {
      let slowdowns = 0;
      const { outcome, lines } = await runCollecting(
        make(launcher),
        bashStep('for i in $(seq 1 3000); do printf "%05d%01000d\\n" $i 0; done'),
        {
          onLine: () => {
            // A consumer that falls behind, so the spawner has to hold the step back.
            slowdowns += 1;
            if (slowdowns % 100 === 0) {
              const until = Date.now() + 5;
              while (Date.now() < until) {}
            }
          },
        },
      );
      expect(outcome).toEqual({ kind: 'exited', exitCode: 0 });
      const stdout = textOf(lines, 'stdout');
      expect(stdout.map((line) => Number(line.slice(0, 5)))).toEqual(
        Array.from({ length: 3000 }, (_, i) => i + 1),
      );
      expect(stdout.every((line) => line.length === 1005)).toBe(true);
    },
  );
});

/** Runs `script` as an ES module in a new Node process, with this repository's dist/ built. */
function node(script: string): ChildProcess {
  return spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const newline = text.indexOf('\n');
      if (newline !== -1) resolve(text.slice(0, newline));
    });
    child.once('exit', () => reject(new Error(`exited before printing a line: ${text}`)));
  });
}

/** The spawners the engine can start, and how a script imports the shared one from dist/. */
const spawnerKinds = [
  { launcher: 'spawner', shared: 'sharedSpawner' },
  { launcher: 'perl-spawner', shared: 'sharedPerlSpawner' },
  { launcher: 'python-spawner', shared: 'sharedPythonSpawner' },
] as const;

describe.each(spawnerKinds)('the $launcher and the engine process', ({ launcher, shared }) => {
  const runOneStep = `
    import { ShellExecutor } from './dist/executors/shell/index.js';
    import { ${shared} as shared } from './dist/executors/shell/spawner/shared-spawner.js';
    const executor = new ShellExecutor({ launcher: '${launcher}' });
    let parent = '';
    const outcome = await executor.run(
      { command: 'sh', args: ['-c', 'echo $PPID'], cwd: '/', env: {}, timeoutMs: 0 },
      { signal: new AbortController().signal, onLine: (line) => { parent = line.text; } },
    );
    console.log(JSON.stringify({ outcome, parent: Number(parent), spawner: shared.pid }));
  `;

  it('does not keep the engine alive, and goes when the engine exits', async () => {
    const started = Date.now();
    const child = node(runOneStep);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const report = JSON.parse(await firstLine(child));
    expect(report.outcome).toEqual({ kind: 'exited', exitCode: 0 });
    expect(report.parent).toBe(report.spawner);
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await waitFor(() => !isRunning(report.spawner), 1_000)).toBe(true);
  });

  it('does not delay the exit of an engine that ran no step', async () => {
    const started = Date.now();
    // A named launcher starts its spawner with the executor.
    const child = node(`
      import { ShellExecutor } from './dist/executors/shell/index.js';
      import { ${shared} as shared } from './dist/executors/shell/spawner/shared-spawner.js';
      new ShellExecutor({ launcher: '${launcher}' });
      console.log(shared.pid);
    `);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const spawnerPid = Number(await firstLine(child));
    expect(spawnerPid).toBeGreaterThan(1);
    expect(await exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await waitFor(() => !isRunning(spawnerPid), 1_000)).toBe(true);
  });

  it('exits by itself when the engine is killed', async () => {
    const child = node(`${runOneStep}; setInterval(() => {}, 1000);`);
    const report = JSON.parse(await firstLine(child));
    expect(isRunning(report.spawner)).toBe(true);
    child.kill('SIGKILL');
    expect(await waitFor(() => !isRunning(report.spawner), 2_000)).toBe(true);
  });
});
