import { ValkyrieError } from '../../core/errors.js';
import { launchProcess } from './spawner/process-launch.js';
import type { LaunchRequest, LaunchSink } from './spawner/protocol.js';
import {
  autoSpawners,
  preferredSpawner,
  type SharedSpawner,
  sharedPerlSpawner,
  sharedSpawner,
} from './spawner/shared-spawner.js';

/**
 * Where step processes are forked from:
 * - `in-process`: this process, which blocks its main thread for the fork (costlier the bigger it is);
 * - `spawner`: the shared Node spawner process, waiting for it to start (or restart) when needed;
 * - `perl-spawner`: the same with the shared Perl spawner, which forks for about half the CPU;
 * - `auto`: the Perl spawner, or the Node one where Perl cannot run (no perl, or it keeps dying),
 *   once it is ready; this process while it starts, after it died, or when neither can run.
 */
export type LauncherChoice = 'auto' | 'in-process' | 'spawner' | 'perl-spawner';

const launcherChoices: readonly LauncherChoice[] = ['auto', 'in-process', 'spawner', 'perl-spawner'];

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

/** The shared spawner `choice` launches through right now, if any. */
export function spawnerFor(choice: LauncherChoice): SharedSpawner | undefined {
  switch (choice) {
    case 'in-process':
      return undefined;
    case 'spawner':
      return sharedSpawner;
    case 'perl-spawner':
      return sharedPerlSpawner;
    case 'auto':
      return preferredSpawner();
  }
}

/**
 * Starts the spawner that executors constructed without a launcher will use, so it is ready by
 * the time the first step runs. Call it early at start-up; until it is ready, `auto` spawns
 * in-process. Throws VK_EXECUTOR only when VALKYRIE_LAUNCHER names no launcher, so that a typo
 * stops the program at start-up rather than failing every job.
 */
export function warmUpSpawner(): void {
  spawnerFor(defaultLauncherChoice())?.warmUp();
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

/** `auto` over `spawners`, best first; exported for tests. */
export function autoLauncher(spawners: readonly SharedSpawner[]): ProcessLauncher {
  return {
    launch(request, sink) {
      const spawner = preferredSpawner(spawners)?.readyNow();
      if (spawner === undefined) launchProcess(request, sink);
      else spawner.launch(request, sink);
    },
  };
}

const launchers: Readonly<Record<LauncherChoice, ProcessLauncher>> = {
  'in-process': inProcess,
  spawner: viaSpawner(sharedSpawner),
  'perl-spawner': viaSpawner(sharedPerlSpawner),
  auto: autoLauncher(autoSpawners),
};

export function processLauncher(choice: LauncherChoice): ProcessLauncher {
  return launchers[choice];
}
