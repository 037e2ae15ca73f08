import { constants } from 'node:os';
import type { ProcessOutcome } from '../../core/outcome.js';
import { timerDelay } from '../../core/timer-delay.js';
import type { KillPolicy, RunStepOptions, StepProcess } from '../contract.js';
import { GroupEscalation } from './escalation.js';
import type { ProcessLauncher, StepLaunchSink } from './launcher.js';
import { LineSplitter } from './line-splitter.js';
import type { ProcessGroupRegistry } from './process-group.js';
import { describeSpawnFailure } from './spawn-failure.js';
import type { OutputStream } from './spawner/protocol.js';

/**
 * Runs one step's process to its outcome through `launcher`. Never rejects. Each group started is
 * put in `groups`; signals go to the group from this process, whichever process forked it.
 */
export function runStep(
  step: StepProcess,
  options: RunStepOptions,
  policy: KillPolicy,
  groups: ProcessGroupRegistry,
  launcher: ProcessLauncher,
): Promise<ProcessOutcome> {
  const aborted = abortedBeforeStart(options);
  if (aborted !== undefined) return Promise.resolve(aborted);
  return new Promise<ProcessOutcome>((resolve) => {
    new StepSupervisor(step, options, policy, groups, resolve).start(launcher);
  });
}

function abortedBeforeStart(options: RunStepOptions): ProcessOutcome | undefined {
  if (options.signal.aborted) return cancelledBy(options.signal);
  if (options.killSignal?.aborted) return cancelledBy(options.killSignal);
  return undefined;
}

function cancelledBy(signal: AbortSignal): ProcessOutcome {
  return { kind: 'cancelled', reason: typeof signal.reason === 'string' ? signal.reason : 'cancelled' };
}

function exitedOutcome(code: number | null, signal: NodeJS.Signals | null): ProcessOutcome {
  if (code !== null) return { kind: 'exited', exitCode: code };
  // The shell convention, so a step killed from outside reads like it does in bash.
  const signalNumber = signal === null ? 0 : constants.signals[signal];
  return { kind: 'exited', exitCode: 128 + signalNumber };
}

/**
 * Watches one process from launch until its outcome is known: it has exited, its output is read
 * (the launcher abandons it `drainGraceMs` after the exit), and a stop in progress has finished
 * with its group. A stop requested before the launcher reported the pid begins once it does.
 */
class StepSupervisor implements StepLaunchSink {
  private readonly stdout: LineSplitter;
  private readonly stderr: LineSplitter;
  private pgid: number | undefined;
  private escalation: GroupEscalation | undefined;
  private exit: ProcessOutcome | undefined;
  private stop: ProcessOutcome | undefined;
  private killRequested = false;
  private isDrained = false;
  /** The launcher saw the group empty when it drained: no need to ask the kernel (see LaunchSink). */
  private groupGone = false;
  private finished = false;
  private timeoutTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly step: StepProcess,
    private readonly options: RunStepOptions,
    private readonly policy: KillPolicy,
    private readonly groups: ProcessGroupRegistry,
    private readonly resolve: (outcome: ProcessOutcome) => void,
  ) {
    const { onLine, cutBefore } = options;
    const emitTo =
      (stream: OutputStream) =>
      (text: string, at: number, continued: boolean): void =>
        onLine(continued ? { stream, text, at, continued } : { stream, text, at });
    this.stdout = new LineSplitter(emitTo('stdout'), { cutBefore });
    this.stderr = new LineSplitter(emitTo('stderr'), { cutBefore });
  }

  start(launcher: ProcessLauncher): void {
    const { step, options } = this;
    options.signal.addEventListener('abort', this.onAbort);
    options.killSignal?.addEventListener('abort', this.onKill);
    if (Number.isFinite(step.timeoutMs) && step.timeoutMs > 0) {
      this.timeoutTimer = setTimeout(
        () => this.requestStop({ kind: 'timed_out' }),
        timerDelay(step.timeoutMs),
      );
      // The child's pipes, or the spawner's channel, keep the event loop alive while this matters.
      this.timeoutTimer.unref();
    }
    launcher.launch(step, this);
  }

  spawned(pid: number): void {
    this.pgid = pid;
    this.groups.add(pid);
    this.escalation = new GroupEscalation(pid, this.policy, () => this.maybeFinish());
    if (this.killRequested) this.escalation.kill();
    else if (this.stop !== undefined) this.escalation.begin();
  }

  failed(code: string | undefined, message: string): void {
    const error = Object.assign(new Error(message), { code });
    void describeSpawnFailure(this.step, error).then((reason) =>
      this.finish({ kind: 'failed_to_start', message: reason }),
    );
  }

  output(stream: OutputStream, data: Buffer, at: number): void {
    (stream === 'stdout' ? this.stdout : this.stderr).push(data, at);
  }

  exited(code: number | null, signal: NodeJS.Signals | null): void {
    this.exit = exitedOutcome(code, signal);
    this.escalation?.leaderExited();
    this.maybeFinish();
  }

  drained(groupGone = false): void {
    this.groupGone = groupGone;
    this.stdout.end();
    this.stderr.end();
    this.isDrained = true;
    this.maybeFinish();
  }

  /**
   * The spawner died. After the exit only output can be missing, so the exit stands. Before it,
   * nothing can read the process's output or learn its exit any more: its group is killed (a cancel
   * in progress still reports `cancelled`) and the step reports that it was lost.
   */
  lost(reason: string): void {
    if (this.exit !== undefined) {
      this.drained();
      return;
    }
    this.stdout.end();
    this.stderr.end();
    this.escalation?.kill();
    const message =
      this.pgid === undefined
        ? `lost "${this.step.command}" before it was known to have started: ${reason}`
        : `lost "${this.step.command}" (process group ${this.pgid}) while it ran, and killed it: ${reason}`;
    this.finish(this.stop ?? { kind: 'failed_to_start', message });
  }

  private readonly onAbort = (): void => {
    this.requestStop(cancelledBy(this.options.signal));
  };

  private readonly onKill = (): void => {
    // After a normal exit there is nothing to kill: background processes are cleanup's job.
    if (this.exit !== undefined && this.escalation?.started !== true) return;
    if (this.stop === undefined && this.options.killSignal !== undefined) {
      this.stop = cancelledBy(this.options.killSignal);
    }
    this.killRequested = true;
    this.escalation?.kill();
  };

  private requestStop(outcome: ProcessOutcome): void {
    // Once the process has exited the step is over: an abort while its output drains changes nothing.
    if (this.exit !== undefined || this.stop !== undefined) return;
    this.stop = outcome;
    this.escalation?.begin();
  }

  private maybeFinish(): void {
    if (this.exit === undefined || !this.isDrained || this.escalation?.busy === true) return;
    this.finish(this.stop ?? this.exit);
  }

  private finish(outcome: ProcessOutcome): void {
    if (this.finished) return;
    this.finished = true;
    this.options.signal.removeEventListener('abort', this.onAbort);
    this.options.killSignal?.removeEventListener('abort', this.onKill);
    clearTimeout(this.timeoutTimer);
    this.escalation?.dispose();
    if (this.pgid !== undefined) {
      if (this.groupGone) this.groups.forget(this.pgid);
      else this.groups.forgetIfGone(this.pgid);
    }
    this.resolve(outcome);
  }
}
