import { ValkyrieError } from '../../core/errors.js';
import type { ProcessOutcome } from '../../core/outcome.js';
import {
  defaultKillPolicy,
  type Executor,
  type KillPolicy,
  type RunStepOptions,
  type StepProcess,
} from '../contract.js';
import {
  defaultLauncherChoice,
  type LauncherChoice,
  type ProcessLauncher,
  processLauncher,
  spawnerFor,
} from './launcher.js';
import { newTrackingId, type OrphansStopped, sweepOrphansOf } from './orphans.js';
import { ProcessGroupRegistry } from './process-group.js';
import { runStep } from './step-run.js';

export type { LauncherChoice } from './launcher.js';
export { launcherVariable, warmUpSpawner } from './launcher.js';
export type { OrphansStopped, StoppedOrphan } from './orphans.js';
export { holdStepOutput } from './output-hold.js';

export interface ShellExecutorOptions {
  /** Escalation timing for cancellation and timeouts; `defaultKillPolicy` when omitted. */
  readonly killPolicy?: KillPolicy;
  /**
   * Which process forks the steps (see `LauncherChoice`). When omitted, the one the environment
   * variable VALKYRIE_LAUNCHER names (auto | in-process | spawner | perl-spawner | python-spawner),
   * else `auto`. The spawner choices throw VK_EXECUTOR here when that spawner cannot run on this
   * machine (not built; no perl or python3 on PATH), as does a VALKYRIE_LAUNCHER naming no launcher.
   * A python3 older than 3.10 is found out when the spawner first starts: from then on steps fail to
   * start with that reason, and executors constructed later throw.
   */
  readonly launcher?: LauncherChoice;
  /**
   * Told which processes the job left running in a session of their own were stopped (orphans.ts),
   * once the sweep after `cleanup()` has stopped any; never for a job that left none. The job has
   * ended by then, and its log is closed: the runner says it where its own lines go.
   */
  readonly onOrphansStopped?: OrphansStopped;
}

/**
 * Runs each step as a local child process in its own process group, so a cancellation or
 * timeout reaches everything the step started, and `cleanup()` finds what it left running.
 * By default the processes are started by a small spawner process shared by all executors — a
 * Python one (vfork) where python3 3.10+ is installed, else a Perl one, else a Node one; in-process
 * until it is ready — which keeps the cost of fork() off this process's main thread, and lowers it
 * by forking from a smaller process, or by not copying one at all.
 * Signals, timeouts and cleanup still go from here, to the process group.
 *
 * Lifecycle as in `Executor`: `prepare()` → `run()` one step at a time → `cleanup()`.
 * A `run()` after `cleanup()` resolves `failed_to_start` rather than start a process nobody
 * would stop.
 */
export class ShellExecutor implements Executor {
  private readonly killPolicy: KillPolicy;
  private readonly launcher: ProcessLauncher;
  private readonly groups = new ProcessGroupRegistry();
  private readonly onOrphansStopped: OrphansStopped | undefined;
  private cleanupDone: Promise<void> | undefined;
  /** This job's mark (orphans.ts): its steps' processes carry it, so that a daemon can be found. */
  readonly trackingId = newTrackingId();
  private startedSteps = false;

  constructor(options: ShellExecutorOptions = {}) {
    this.killPolicy = options.killPolicy ?? defaultKillPolicy;
    this.onOrphansStopped = options.onOrphansStopped;
    const launcher = options.launcher ?? defaultLauncherChoice();
    const spawner = spawnerFor(launcher);
    const missing = spawner?.kind.missing();
    if (missing !== undefined) {
      throw new ValkyrieError('VK_EXECUTOR', `launcher: "${launcher}" cannot be used: ${missing}`);
    }
    spawner?.warmUp();
    this.launcher = processLauncher(launcher);
  }

  /** Nothing to set up on the local machine; rejects only after `cleanup()`. */
  async prepare(): Promise<void> {
    if (this.cleanupDone !== undefined) {
      throw new ValkyrieError(
        'VK_EXECUTOR',
        'the shell executor was already cleaned up; prepare() came too late',
      );
    }
  }

  run(step: StepProcess, options: RunStepOptions): Promise<ProcessOutcome> {
    if (this.cleanupDone !== undefined) {
      return Promise.resolve({
        kind: 'failed_to_start',
        message: `the shell executor was already cleaned up; "${step.command}" was not started`,
      });
    }
    // Groups that emptied since their step ended are dropped before their ids can be recycled.
    this.groups.forgetAllGone();
    this.startedSteps = true;
    return runStep(step, options, this.killPolicy, this.groups, this.launcher);
  }

  /**
   * SIGKILL to every group a step left running, and, soon after, to every process the job's steps
   * started in a session of their own (a daemon; orphans.ts). Safe without or after a failed
   * `prepare()`; later calls return the first call's promise. It does not wait for the processes to
   * vanish: nothing survives SIGKILL, and where PID 1 never reaps orphans they would linger as zombies.
   */
  cleanup(): Promise<void> {
    this.cleanupDone ??= Promise.resolve().then(() => {
      this.groups.killAll();
      if (this.startedSteps) sweepOrphansOf(this.trackingId, this.onOrphansStopped);
    });
    return this.cleanupDone;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.cleanup();
  }
}
