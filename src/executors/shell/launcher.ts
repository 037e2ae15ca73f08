import { launchProcess } from './spawner/process-launch.js';
import type { LaunchRequest, LaunchSink } from './spawner/protocol.js';
import { sharedSpawner } from './spawner/shared-spawner.js';

/**
 * Where step processes are forked from:
 * - `in-process`: this process, which blocks its main thread for the fork (costlier the bigger it is);
 * - `spawner`: the shared spawner process, waiting for it to start (or restart) when needed;
 * - `auto`: the spawner when it is ready, this process while it starts or after it died.
 */
export type LauncherChoice = 'auto' | 'in-process' | 'spawner';

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

const viaSpawner: ProcessLauncher = {
  launch(request, sink) {
    void sharedSpawner.whenReady().then((spawner) => {
      if (typeof spawner === 'string') sink.failed(undefined, spawner);
      else spawner.launch(request, sink);
    });
  },
};

const auto: ProcessLauncher = {
  launch(request, sink) {
    const spawner = sharedSpawner.readyNow();
    if (spawner === undefined) launchProcess(request, sink);
    else spawner.launch(request, sink);
  },
};

export function processLauncher(choice: LauncherChoice): ProcessLauncher {
  switch (choice) {
    case 'in-process':
      return inProcess;
    case 'spawner':
      return viaSpawner;
    case 'auto':
      return auto;
  }
}
