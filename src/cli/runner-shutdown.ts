import { counted } from '../core/counted.js';
import { formatDelay } from '../core/retry-delay.js';
import { type StopSignal, signalExitCode, stopSignals } from './stop-signals.js';

/**
 * SIGTERM / SIGINT / SIGHUP, counted: the first drains, the second cancels gracefully, the third kills.
 * SIGHUP is what a runner started in a terminal gets when that terminal closes (an SSH session ends):
 * as GitLab's and Buildkite's agents are stopped, it drains rather than dying with its jobs, which
 * would come back only once their leases expire. Its own output is gone then: its writes fail with
 * EIO, which bin/valkyrie.js takes as output closed, as EPIPE.
 */
export class Shutdown {
  private readonly controller = new AbortController();
  private readonly listeners: ((level: number, signal: StopSignal) => void)[] = [];
  private resolve: () => void = () => {};
  readonly requested = new Promise<void>((resolve) => {
    this.resolve = resolve;
  });
  level = 0;
  /** The signal that came last, once one has. */
  last: StopSignal | undefined;
  private readonly received = new Set<StopSignal>();
  private isConnected = false;
  private readonly onSignal = (signal: StopSignal) => this.escalate(signal);

  /** Aborted by a signal that arrives while registering or connecting; never once connected. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** From now on a signal drains: the connection must stay up for the running jobs' reports. */
  connected(): void {
    this.isConnected = true;
  }

  get stopping(): boolean {
    return this.level > 0;
  }

  /**
   * The exit code of a runner stopped by signals, by the shell's convention (128 + the signal's
   * number): SIGTERM's once one came, else SIGHUP's, else Ctrl-C's.
   */
  get exitCode(): number {
    if (this.received.has('SIGTERM')) return signalExitCode.SIGTERM;
    return signalExitCode[this.received.has('SIGHUP') ? 'SIGHUP' : 'SIGINT'];
  }

  listen(): void {
    for (const signal of stopSignals) process.on(signal, this.onSignal);
  }

  unlisten(): void {
    for (const signal of stopSignals) process.off(signal, this.onSignal);
  }

  onEscalate(listener: (level: number, signal: StopSignal) => void): void {
    this.listeners.push(listener);
  }

  private escalate(signal: StopSignal): void {
    this.level++;
    this.last = signal;
    this.received.add(signal);
    if (!this.isConnected) this.controller.abort();
    this.resolve();
    for (const listener of this.listeners) listener(this.level, signal);
  }
}

/**
 * Why its running jobs were cancelled, as each job's reason and log say: the `level`th signal (the
 * second cancels them gracefully, the third kills them).
 */
export function runnerShutdownReason(level: number, signal: StopSignal): string {
  const nth = ['first', 'second', 'third'][level - 1] ?? `${level}th`;
  return `the runner is shutting down (${nth} ${signal})`;
}

/**
 * What the runner says as the `level`th signal comes with `running` jobs, and `accepted` jobs whose
 * lease has not come yet (the drain runs each if its lease comes within `waitMs` of the accept; after
 * the second signal it does not); the third says nothing more.
 */
export function shutdownLine(
  level: number,
  running: number,
  accepted: { readonly jobs: number; readonly waitMs: number },
): string | undefined {
  const leases =
    accepted.jobs === 0
      ? undefined
      : `the lease${accepted.jobs === 1 ? '' : 's'} of ${counted(accepted.jobs, 'job')} it accepted`;
  if (level === 1) {
    if (running === 0 && leases === undefined) return 'draining: no job is running; stopping';
    const waits = [
      ...(running > 0 ? [`for ${counted(running, 'running job')}`] : []),
      ...(leases === undefined ? [] : [`up to ${formatDelay(accepted.waitMs)} for ${leases}`]),
    ];
    const them = running + accepted.jobs === 1 ? 'it' : 'them';
    return `draining: no new jobs; waiting ${waits.join(', and ')} (signal again to cancel ${them})`;
  }
  if (level === 2)
    return `cancelling ${counted(running, 'running job')}${accepted.jobs === 0 ? '' : `; ${counted(accepted.jobs, 'job')} it accepted will not be run`}…`;
  return undefined;
}
