import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessOutcome } from '../../../src/core/outcome.js';
import type { StepProcess } from '../../../src/executors/contract.js';
import { ShellExecutor } from '../../../src/executors/shell/index.js';
import { autoLauncher, defaultLauncherChoice } from '../../../src/executors/shell/launcher.js';
import { ProcessGroupRegistry } from '../../../src/executors/shell/process-group.js';
import {
  findInterpreter,
  libexecPath,
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
import {
  bashStep,
  isRunning,
  launchers,
  pathOnly,
  runCollecting,
  testKillPolicy,
  textOf,
  waitFor,
} from './helpers.js';

const executors = new Map(
  launchers.map((launcher) => [launcher, new ShellExecutor({ killPolicy: testKillPolicy, launcher })]),
);
let workdir = '';

beforeAll(async () => {
  workdir = await realpath(await mkdtemp(join(tmpdir(), 'valkyrie-script-spawners-')));
  await writeFile(join(workdir, 'not-executable'), 'echo no\n');
  await writeFile(join(workdir, 'no-shebang'), 'echo "from sh $1"\n');
  await chmod(join(workdir, 'no-shebang'), 0o755);
  // Commands found on PATH the way execvp() finds them (see pathSearches below).
  const commands: [string, string, string, number][] = [
    ['first', 'vk-first', 'echo "first, without #!"', 0o755],
    ['second', 'vk-first', '#!/bin/sh\necho "second, with #!"', 0o755],
    ['third', 'vk-denied', 'echo "not executable"', 0o644],
    ['fourth', 'vk-denied', 'echo "fourth, without #!"', 0o755],
    ['relative', 'vk-relative', 'echo "relative, without #!"', 0o755],
  ];
  for (const [directory, name, script, mode] of commands) {
    await mkdir(join(workdir, directory), { recursive: true });
    await writeFile(join(workdir, directory, name), `${script}\n`);
    await chmod(join(workdir, directory, name), mode);
  }
});

afterAll(async () => {
  await Promise.all([...executors.values()].map((executor) => executor.cleanup()));
  await rm(workdir, { recursive: true, force: true });
});

interface Reported {
  readonly outcome: ProcessOutcome;
  readonly stdout: string[];
  readonly stderr: string[];
}

/**
 * Runs `step` with every launcher; what each reported. Lines by stream: no launcher orders the
 * lines of stdout against those of stderr, which are read from two pipes.
 */
async function everyLauncher(step: StepProcess): Promise<Record<string, Reported>> {
  const results: Record<string, Reported> = {};
  for (const [launcher, executor] of executors) {
    const { outcome, lines } = await runCollecting(executor, step);
    results[launcher] = { outcome, stdout: textOf(lines, 'stdout'), stderr: textOf(lines, 'stderr') };
  }
  return results;
}

function expectSameEverywhere(results: Record<string, unknown>): void {
  const inProcess = results['in-process'];
  for (const launcher of launchers) expect(results[launcher], launcher).toEqual(inProcess);
}

/**
 * Steps whose command is found on PATH: the first executable file wins, even one without #!.
 * PATH entries name directories under the workdir, made by beforeAll: read when the step is.
 */
function pathSearches(): [string, () => StepProcess][] {
  const step = (command: string, directories: string[]) => (): StepProcess => ({
    command,
    args: [],
    cwd: workdir,
    env: { PATH: [...directories.map((directory) => join(workdir, directory)), '/usr/bin:/bin'].join(':') },
    timeoutMs: 0,
  });
  return [
    ['a file without #! before one with it on PATH', step('vk-first', ['first', 'second'])],
    ['a file that cannot run before one without #! on PATH', step('vk-denied', ['third', 'fourth'])],
    ['only a file that cannot run on PATH', step('vk-denied', ['third'])],
    [
      'a relative PATH entry, from the working directory',
      () => ({ ...step('vk-relative', [])(), env: { PATH: 'relative:/usr/bin:/bin' } }),
    ],
  ];
}

describe('the script spawners report what the in-process launcher reports', () => {
  const failures: [string, () => StepProcess][] = [
    [
      'a command that does not exist',
      () => ({ ...bashStep(''), command: 'valkyrie-no-such-command', args: [] }),
    ],
    [
      'a command path that does not exist',
      () => ({ ...bashStep(''), command: join(workdir, 'nope'), args: [] }),
    ],
    ['a command without PATH', () => ({ ...bashStep(''), command: 'valkyrie-no-such-command', env: {} })],
    ['a file that is not executable', () => ({ ...bashStep(''), command: join(workdir, 'not-executable') })],
    ['a directory as the command', () => ({ ...bashStep(''), command: workdir, args: [] })],
    ['a working directory that does not exist', () => bashStep('true', { cwd: join(workdir, 'missing') })],
    ['a file as the working directory', () => bashStep('true', { cwd: join(workdir, 'not-executable') })],
    ['a relative working directory that does not exist', () => bashStep('true', { cwd: 'no/such/dir' })],
    ['an empty command', () => ({ ...bashStep(''), command: '' })],
    ['a NUL byte in an argument', () => bashStep('echo a\0b')],
    ['a NUL byte in a variable', () => bashStep('true', { env: { ...pathOnly, BAD: 'a\0b' } })],
  ];

  it.each(failures)('for %s: failed_to_start, same message', async (_, step) => {
    const results = await everyLauncher(step());
    expect(results['in-process']?.outcome.kind).toBe('failed_to_start');
    expectSameEverywhere(results);
  });

  const runs: [string, () => StepProcess][] = [
    ['an exit code', () => bashStep('echo out; echo err >&2; exit 7')],
    ['a signal', () => bashStep('kill -TERM $$')],
    ['a signal Node has no name for', () => bashStep('kill -35 $$')],
    [
      'a script without #! (run by sh)',
      () => ({ ...bashStep(''), command: join(workdir, 'no-shebang'), args: ['x'] }),
    ],
    [
      'no PATH at all',
      () => ({ command: 'sh', args: ['-c', 'echo "[$PATH]"'], cwd: workdir, env: {}, timeoutMs: 0 }),
    ],
    [
      'awkward arguments and variables',
      () => ({
        command: 'env',
        args: ['-0'],
        cwd: workdir,
        env: { ...pathOnly, EMPTY: '', EQUALS: 'a=b=c', 'SPACE D': ' x ', UTF8: 'héllo 😀', 'A=B': 'c' },
        timeoutMs: 0,
      }),
    ],
    [
      'empty and unicode arguments',
      () =>
        bashStep('printf "[%s]\\n" "$@"', {
          args: ['-c', 'printf "[%s]\\n" "$@"', 'zero', '', 'ü 😀', '-e'],
        }),
    ],
    ...pathSearches(),
    ['a working directory relative to the engine', () => bashStep('pwd', { cwd: 'test/../src' })],
    ["an empty working directory: the engine's", () => bashStep('pwd', { cwd: '' })],
    ['the descriptors a step gets', () => bashStep('ls /proc/$$/fd; readlink /proc/$$/fd/0')],
    ['ignored and blocked signals', () => bashStep('grep -E "^Sig(Ign|Blk)" /proc/$$/status')],
    [
      'a session and process group of its own',
      () => bashStep("ps -o pid=,pgid=,sid= -p $$ | awk '{ print ($1 == $2 && $2 == $3) }'"),
    ],
  ];

  it.each(runs)('for %s: the same outcome and output', async (_, step) => {
    expectSameEverywhere(await everyLauncher(step()));
  });

  // The Python spawner hands exec the variables as they came and searches the first PATH, as Node's
  // child does; Perl's %ENV keeps one variable a name (the later one), so it is left out here.
  it('for a second PATH, from a name that holds =: the Python spawner passes both, searching the first', async () => {
    const results = await everyLauncher({
      command: 'env',
      args: [],
      cwd: workdir,
      env: { ...pathOnly, 'PATH=/nowhere': 'x' },
      timeoutMs: 0,
    });
    expect(results['in-process']?.stdout).toContain('PATH=/nowhere=x');
    expect(results['python-spawner']).toEqual(results['in-process']);
  });
});

describe("the script spawners build each step's environment anew", () => {
  // The Perl one sets only the values that changed since the previous spawn when the names are the
  // same ones in the same order; every other list is built from scratch. Either way a step must see
  // exactly its own variables, in their order.
  const base = { ...pathOnly, A: '1', B: '2', C: '3' };
  const sequence: [string, Record<string, string>][] = [
    ['the first list', base],
    ['the same list again', base],
    ['one value changed', { ...base, B: 'two' }],
    ['a value emptied', { ...base, B: '' }],
    ['a variable dropped', { PATH: base.PATH, A: '1', C: '3' }],
    ['a variable added', { ...base, D: '4' }],
    ['the same names in another order', { PATH: base.PATH, C: '3', B: '2', A: '1', D: '4' }],
    ['a name that holds =', { PATH: base.PATH, C: '3', B: '2', A: '1', 'D=x': 'y' }],
    ['no variables', {}],
    ['the first list once more', base],
  ];

  it('gives each step in a sequence exactly its variables, as the in-process launcher does', async () => {
    for (const [what, env] of sequence) {
      const step: StepProcess = { command: '/usr/bin/env', args: ['-0'], cwd: workdir, env, timeoutMs: 0 };
      const results = await everyLauncher(step);
      for (const launcher of launchers)
        expect(results[launcher], `${what}, ${launcher}`).toEqual(results['in-process']);
      for (const launcher of ['perl-spawner', 'python-spawner']) {
        expect(results[launcher]?.stdout.join('\n').split('\0').filter(Boolean), what).toEqual(
          Object.entries(env).map(([name, value]) => `${name}=${value}`),
        );
      }
    }
  });
});

describe.each([
  { launcher: 'perl-spawner', shared: sharedPerlSpawner },
  { launcher: 'python-spawner', shared: sharedPythonSpawner },
] as const)('the $launcher tells whether a step left its process group empty', ({ launcher, shared }) => {
  /** What `drained` said for `step`, launched straight through the spawner. */
  async function groupGoneAfter(step: StepProcess): Promise<boolean | undefined> {
    const spawner = await shared.whenReady();
    if (typeof spawner === 'string') throw new Error(spawner);
    return new Promise((resolve, reject) => {
      spawner.launch(step, {
        spawned: () => {},
        output: () => {},
        exited: () => {},
        failed: (_, message) => reject(new Error(message)),
        lost: (reason) => reject(new Error(reason)),
        drained: (groupGone) => resolve(groupGone),
      });
    });
  }

  it('says gone when nothing of the step is left', async () => {
    expect(await groupGoneAfter(bashStep('(true) & wait; echo done'))).toBe(true);
  });

  it('says not gone while a background process lives on in the group, which the engine keeps', async () => {
    const step = bashStep('sleep 5 >/dev/null 2>&1 & echo $!');
    expect(await groupGoneAfter(step)).toBe(false);
    // Through the executor the group stays remembered, so cleanup() still stops that process.
    const executor = new ShellExecutor({ killPolicy: testKillPolicy, launcher });
    const { lines } = await runCollecting(executor, step);
    const background = Number(textOf(lines, 'stdout')[0]);
    expect(isRunning(background)).toBe(true);
    await executor.cleanup();
    expect(await waitFor(() => !isRunning(background), 2000)).toBe(true);
  });
});

describe('`auto` without a usable script spawner', () => {
  const groups = new ProcessGroupRegistry();
  afterAll(() => {
    groups.killAll();
  });

  async function parentOfStep(spawners: SharedSpawner[]): Promise<number> {
    let parent = '';
    const outcome = await runStep(
      bashStep('echo $PPID'),
      { signal: new AbortController().signal, onLine: (line) => (parent = line.text) },
      testKillPolicy,
      groups,
      autoLauncher(spawners),
    );
    expect(outcome).toEqual({ kind: 'exited', exitCode: 0 });
    return Number(parent);
  }

  async function readyPid(shared: SharedSpawner): Promise<number> {
    const spawner = await shared.whenReady();
    if (typeof spawner === 'string' || spawner.pid === undefined) throw new Error(`no ${shared.kind.label}`);
    return spawner.pid;
  }

  it('starts its spawner at the first step, which runs in-process, and uses it once it is ready', async () => {
    const python = new SharedSpawner(new ScriptSpawnerKind(pythonSpawnerSpec));
    expect(python.pid).toBeUndefined();
    expect(await parentOfStep([python])).toBe(process.pid);
    expect(python.pid).toBeDefined();
    const pythonPid = await readyPid(python);
    expect(await parentOfStep([python])).toBe(pythonPid);
    python.ready?.kill();
  });

  it('uses the Node spawner when perl is not installed', async () => {
    const noPerl = new SharedSpawner(
      new ScriptSpawnerKind(perlSpawnerSpec, () => ({ interpreter: undefined, script: '/x.pl' })),
    );
    expect(noPerl.unavailableReason).toMatch(/^perl was not found on PATH/);
    const nodePid = await readyPid(sharedSpawner);
    expect(await parentOfStep([noPerl, sharedSpawner])).toBe(nodePid);
    expect(noPerl.pid).toBeUndefined();
  });

  it('uses the Node spawner once the Perl one keeps dying, in-process until then', async () => {
    const perl = findInterpreter('perl');
    expect(perl).toBeDefined();
    // A perl that exits at once, as one missing a module would.
    const dying = new SharedSpawner(
      new ScriptSpawnerKind(perlSpawnerSpec, () => ({
        interpreter: perl,
        script: join(workdir, 'not-executable.pl'),
      })),
    );
    await writeFile(join(workdir, 'not-executable.pl'), 'exit 3;\n');
    const nodePid = await readyPid(sharedSpawner);
    const parents = new Set<number>();
    for (let attempt = 0; attempt < 100 && !parents.has(nodePid); attempt += 1) {
      parents.add(await parentOfStep([dying, sharedSpawner]));
    }
    expect(parents).toEqual(new Set([process.pid, nodePid]));
    expect(dying.unavailableReason).toBe('the Perl process spawner died 3 times in the last 60 s');
  });

  it('has a Python spawner that an older python3 can compile, to reach its version check', () => {
    const python = findInterpreter('python3');
    const script = libexecPath('valkyrie-spawner.py');
    expect(python).toBeDefined();
    expect(script).toBeDefined();
    // Python compiles the whole file before running its first line: syntax newer than the check
    // would end an old python3 with a SyntaxError (status 1) instead of the status 3 it looks for.
    const parse = 'import ast, sys; ast.parse(open(sys.argv[1]).read(), feature_version=(3, 6))';
    const result = spawnSync(python ?? 'python3', ['-I', '-S', '-c', parse, script ?? ''], {
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('uses the Perl spawner after one start of a python3 older than 3.10, and says why', async () => {
    const python = findInterpreter('python3');
    expect(python).toBeDefined();
    // What libexec/valkyrie-spawner.py does on an old Python, before it says ready.
    await writeFile(join(workdir, 'old-python.py'), 'import sys\nsys.exit(3)\n');
    const old = new SharedSpawner(
      new ScriptSpawnerKind(pythonSpawnerSpec, () => ({
        interpreter: python,
        script: join(workdir, 'old-python.py'),
      })),
    );
    const perlPid = await readyPid(sharedPerlSpawner);
    expect(await parentOfStep([old, sharedPerlSpawner])).toBe(process.pid);
    expect(await old.whenReady()).toBe(
      'the Python process spawner cannot run: python3 is older than 3.10 (which starts processes with vfork), or lacks part of its standard library',
    );
    expect(await parentOfStep([old, sharedPerlSpawner])).toBe(perlPid);
    // Missing for good: no second start.
    expect(old.warmUp()).toBeUndefined();
  });
});

describe('choosing the launcher', () => {
  it('takes VALKYRIE_LAUNCHER as the default, and names a value that is no launcher', () => {
    expect(defaultLauncherChoice({})).toBe('auto');
    expect(defaultLauncherChoice({ VALKYRIE_LAUNCHER: '' })).toBe('auto');
    expect(defaultLauncherChoice({ VALKYRIE_LAUNCHER: 'perl-spawner' })).toBe('perl-spawner');
    expect(defaultLauncherChoice({ VALKYRIE_LAUNCHER: 'python-spawner' })).toBe('python-spawner');
    expect(() => defaultLauncherChoice({ VALKYRIE_LAUNCHER: 'perl' })).toThrow(
      'VALKYRIE_LAUNCHER must be one of auto, in-process, spawner, perl-spawner, python-spawner; received "perl"',
    );
  });

  it('makes executors constructed without a launcher use VALKYRIE_LAUNCHER', async () => {
    process.env.VALKYRIE_LAUNCHER = 'in-process';
    try {
      const executor = new ShellExecutor();
      const { lines } = await runCollecting(executor, bashStep('echo $PPID'));
      expect(Number(textOf(lines, 'stdout')[0])).toBe(process.pid);
      await executor.cleanup();
      process.env.VALKYRIE_LAUNCHER = 'nonsense';
      expect(() => new ShellExecutor()).toThrow(/VALKYRIE_LAUNCHER must be one of/);
    } finally {
      delete process.env.VALKYRIE_LAUNCHER;
    }
  });

  it('finds an interpreter on PATH as a shell would, passing over script wrappers', async () => {
    const perl = findInterpreter('perl');
    expect(perl).toBeDefined();
    expect(findInterpreter('perl', `/nonexistent:${dirname(perl ?? '')}`)).toBe(perl);
    expect(findInterpreter('perl', '/nonexistent')).toBeUndefined();
    expect(findInterpreter('perl', '')).toBeUndefined();
    // A version manager's shim: a script that would start a shell and the manager first.
    const shims = join(workdir, 'shims');
    await mkdir(shims, { recursive: true });
    await writeFile(join(shims, 'perl'), `#!/bin/sh\nexec ${perl} "$@"\n`);
    await chmod(join(shims, 'perl'), 0o755);
    expect(findInterpreter('perl', `${shims}:${dirname(perl ?? '')}`)).toBe(perl);
    expect(findInterpreter('perl', shims)).toBeUndefined();
  });
});
