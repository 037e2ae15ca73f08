import { ValkyrieError } from '../../core/errors.js';
import { InProcessGroups } from './spawner/in-process-groups.js';
import { launchProcess } from './spawner/process-launch.js';
import type { LaunchRequest, LaunchSink } from './spawner/protocol.js';
import {
  autoSpawners,
  preferredSpawner,
  type SharedSpawner,
  sharedPerlSpawner,
  sharedPythonSpawner,
  sharedSpawner,
} from './spawner/shared-spawner.js';

/**
 * Where step processes are forked from:
 * - `in-process`: this process, which blocks its main thread for the fork (costlier the bigger it is);
 * - `spawner`: the shared Node spawner process, waiting for it to start (or restart) when needed;
 * - `perl-spawner`: the same with the shared Perl spawner, which forks for about half the CPU;
 * - `python-spawner`: the same with the shared Python spawner, which starts steps with vfork;
 * - `auto`: the Python spawner, else the Perl one, else the Node one, skipping any that cannot run
 *   (no interpreter, Python older than 3.10, or it keeps dying), once it is ready; this process
 *   while it starts, after it died, or when none can run.
 */
export type LauncherChoice = 'auto' | 'in-process' | 'spawner' | 'perl-spawner' | 'python-spawner';

const launcherChoices: readonly LauncherChoice[] = [
  'auto',
  'in-process',
  'spawner',
  'perl-spawner',
  'python-spawner',
];

/** Picks the launcher of executors that are not given one: for benchmarks and debugging. */
export const launcherVariable = 'VALKYRIE_LAUNCHER';

/** `auto` unless VALKYRIE_LAUNCHER names another; throws VK_EXECUTOR naming a value that is not one. */
export function defaultLauncherChoice(env: NodeJS.ProcessEnv = process.env): LauncherChoice {
  const value = env[launcherVariable];
  if (value === undefined || value === '') return 'auto';
  const choice = launcherChoices.find((known) => known === value);
  if (choice === undefined) {
    throw new ValkyrieError(
      'VK_EXECUTOR',
      `${launcherVariable} must be one of ${launcherChoices.join(', ')}; received "${value}"`,
    );
  }
  return choice;
}

/**
 * The spawner `choice` waits for, if any: none for `in-process`, nor for `auto`, which does without
 * any spawner that cannot run and starts its own at its first step (see `autoLauncher`).
 */
export function spawnerFor(choice: LauncherChoice): SharedSpawner | undefined {
  switch (choice) {
    case 'in-process':
    case 'auto':
      return undefined;
    case 'spawner':
      return sharedSpawner;
    case 'perl-spawner':
      return sharedPerlSpawner;
    case 'python-spawner':
      return sharedPythonSpawner;
  }
}

/**
 * Starts the spawner that executors constructed without a launcher will use, so it is ready by
 * the time the first step runs, when that launcher waits for its spawner; `auto` does not wait,
 * and starts its spawner at its first step (see `autoLauncher`). Call it early at start-up. Throws
 * VK_EXECUTOR only when VALKYRIE_LAUNCHER names no launcher, so that a typo stops the program at
 * start-up rather than failing every job.
 *
 * `manySteps`: more steps will start than can start at once (a run with more jobs than slots), so
 * `auto`'s spawner is started now too. Every step started while it starts forks the engine on the
 * main thread: started at the first step, it was ready ~0.2 s later in a 1,000-job run on a loaded
 * 2-core VM, and the 4 jobs before took ~60 ms each instead of ~12.
 */
export function warmUpSpawner({ manySteps = false }: { readonly manySteps?: boolean } = {}): void {
  const choice = defaultLauncherChoice();
  if (choice === 'auto') {
    if (manySteps) preferredSpawner(autoSpawners)?.warmUp();
    return;
  }
  spawnerFor(choice)?.warmUp();
}

export interface StepLaunchSink extends LaunchSink {
  /**
   * The spawner died before the process's life was fully reported. `spawned()` may or may not have
   * come; nothing else will. Ends the launch like `failed()` or `drained()`.
   */
  lost(reason: string): void;
}

/** Starts one step process and reports its life to `sink`; never throws. */
export interface ProcessLauncher {
  launch(request: LaunchRequest, sink: StepLaunchSink): void;
}

const inProcess: ProcessLauncher = {
  launch(request, sink) {
    launchProcess(request, sink);
  },
};

function viaSpawner(shared: SharedSpawner): ProcessLauncher {
  return {
    launch(request, sink) {
      void shared.whenReady().then((spawner) => {
        if (typeof spawner === 'string') sink.failed(undefined, spawner);
        else spawner.launch(request, sink);
      });
    },
  };
}

/**
 * `auto` over `spawners`, best first; exported for tests. Until the spawner is ready, steps start
 * in-process, and their process groups are handed to it once it is (see InProcessGroups), so that
 * they too are stopped when the engine dies. It is started by the first step, just after that step
 * has started, rather than with the engine: a spawner starting beside the engine's own start-up
 * competes with it for the CPU (Python's start is ~45 ms of CPU here, and it put 18 ms on the time
 * to the first step). A run that will start more steps than it has slots starts it sooner
 * (`warmUpSpawner`).
 */
export function autoLauncher(spawners: readonly SharedSpawner[]): ProcessLauncher {
  const inProcessGroups = new InProcessGroups();
  return {
    launch(request, sink) {
      const preferred = preferredSpawner(spawners);
      const spawner = preferred?.ready;
      if (spawner !== undefined) {
        spawner.launch(request, sink);
        return;
      }
      launchProcess(request, inProcessGroups.track(sink));
      const starting = preferred?.warmUp();
      if (starting !== undefined) inProcessGroups.handTo(starting);
    },
  };
}

const launchers: Readonly<Record<LauncherChoice, ProcessLauncher>> = {
  'in-process': inProcess,
  spawner: viaSpawner(sharedSpawner),
  'perl-spawner': viaSpawner(sharedPerlSpawner),
  'python-spawner': viaSpawner(sharedPythonSpawner),
  auto: autoLauncher(autoSpawners),
};

export function processLauncher(choice: LauncherChoice): ProcessLauncher {
  return launchers[choice];
}
