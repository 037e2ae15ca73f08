import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import type { ProcessOutcome } from '../../core/outcome.js';
import type { KillPolicy, RunStepOptions, StepProcess } from '../contract.js';
import { GroupEscalation } from './escalation.js';
import { LineSplitter } from './line-splitter.js';
import type { ProcessGroupRegistry } from './process-group.js';
import { describeSpawnFailure } from './spawn-failure.js';

/**
 * How long output is still read after the step's process exited. Normally its pipes close with
 * it; when a background child (`server &`) inherited them they never close, and the step must not
 * wait for that child, which lives on until cleanup.
 */
const drainGraceMs = 200;

/** setTimeout fires at once for delays past 2^31-1 ms; longer limits are as good as none. */
const maxTimerMs = 2_147_483_647;

/** Runs one step's process to its outcome. Never rejects. Each group started is put in `groups`. */
export function runStep(
  step: StepProcess,
  options: RunStepOptions,
  policy: KillPolicy,
  groups: ProcessGroupRegistry,
): Promise<ProcessOutcome> {
  const aborted = abortedBeforeStart(options);
  if (aborted !== undefined) return Promise.resolve(aborted);

  let child: ChildProcess;
  try {
    child = spawn(step.command, step.args, {
      cwd: step.cwd,
      env: step.env,
      // Own process group, so every signal reaches whatever the step started too.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    return failedToStart(step, error);
  }

  const pgid = child.pid;
  if (pgid === undefined) return awaitSpawnError(child, step);
  groups.add(pgid);
  return new Promise<ProcessOutcome>((resolve) => {
    new StepSupervisor(child, pgid, step, options, policy, resolve).start();
  }).finally(() => groups.forgetIfGone(pgid));
}

function abortedBeforeStart(options: RunStepOptions): ProcessOutcome | undefined {
  if (options.signal.aborted) return cancelledBy(options.signal);
  if (options.killSignal?.aborted) return cancelledBy(options.killSignal);
  return undefined;
}

function cancelledBy(signal: AbortSignal): ProcessOutcome {
  return { kind: 'cancelled', reason: typeof signal.reason === 'string' ? signal.reason : 'cancelled' };
}

async function failedToStart(step: StepProcess, error: unknown): Promise<ProcessOutcome> {
  return { kind: 'failed_to_start', message: await describeSpawnFailure(step, error) };
}

/** Node reports ENOENT and EACCES from spawn as an 'error' event on the next tick, with no pid. */
function awaitSpawnError(child: ChildProcess, step: StepProcess): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    child.once('error', (error) => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve(failedToStart(step, error));
    });
  });
}

function exitedOutcome(code: number | null, signal: NodeJS.Signals | null): ProcessOutcome {
  if (code !== null) return { kind: 'exited', exitCode: code };
  // The shell convention, so a step killed from outside reads like it does in bash.
  const signalNumber = signal === null ? 0 : constants.signals[signal];
  return { kind: 'exited', exitCode: 128 + signalNumber };
}

/**
 * Watches one running process until its outcome is known: it has exited, its output is read
 * (or abandoned after `drainGraceMs`), and a stop in progress has finished with its group.
 */
class StepSupervisor {
  private readonly escalation: GroupEscalation;
  private readonly stdout: LineSplitter;
  private readonly stderr: LineSplitter;
  private exit: ProcessOutcome | undefined;
  private stop: ProcessOutcome | undefined;
  private openStreams = 2;
  private finished = false;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly child: ChildProcess,
    pgid: number,
    private readonly step: StepProcess,
    private readonly options: RunStepOptions,
    policy: KillPolicy,
    private readonly resolve: (outcome: ProcessOutcome) => void,
  ) {
    const { onLine } = options;
    this.escalation = new GroupEscalation(pgid, policy, () => this.maybeFinish());
    this.stdout = new LineSplitter((text, at) => onLine({ stream: 'stdout', text, at }));
    this.stderr = new LineSplitter((text, at) => onLine({ stream: 'stderr', text, at }));
  }

  start(): void {
    const { child, step, options } = this;
    child.once('exit', (code, signal) => this.onExit(code, signal));
    // After a successful spawn, 'error' only reports a failed child.kill(), which we never call;
    // without a listener an 'error' event would crash the runner.
    child.on('error', () => {});
    this.read(child.stdout, this.stdout);
    this.read(child.stderr, this.stderr);
    options.signal.addEventListener('abort', this.onAbort);
    options.killSignal?.addEventListener('abort', this.onKill);
    if (Number.isFinite(step.timeoutMs) && step.timeoutMs > 0) {
      this.timeoutTimer = setTimeout(
        () => this.requestStop({ kind: 'timed_out' }),
        Math.min(step.timeoutMs, maxTimerMs),
      );
      // The child process keeps the event loop alive while this timer matters.
      this.timeoutTimer.unref();
    }
  }

  private read(stream: Readable | null, splitter: LineSplitter): void {
    if (stream === null) {
      this.outputEnded(splitter);
      return;
    }
    stream.on('data', (chunk: Buffer) => splitter.push(chunk));
    stream.once('close', () => this.outputEnded(splitter));
  }

  private readonly onAbort = (): void => {
    this.requestStop(cancelledBy(this.options.signal));
  };

  private readonly onKill = (): void => {
    // After a normal exit there is nothing to kill: background processes are cleanup's job.
    if (this.exit !== undefined && !this.escalation.started) return;
    if (this.stop === undefined && this.options.killSignal !== undefined) {
      this.stop = cancelledBy(this.options.killSignal);
    }
    this.escalation.kill();
  };

  private requestStop(outcome: ProcessOutcome): void {
    // Once the process has exited the step is over: an abort while its output drains changes nothing.
    if (this.exit !== undefined || this.stop !== undefined) return;
    this.stop = outcome;
    this.escalation.begin();
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exit = exitedOutcome(code, signal);
    this.escalation.leaderExited();
    if (this.openStreams > 0) this.drainTimer = setTimeout(() => this.abandonOutput(), drainGraceMs);
    this.maybeFinish();
  }

  private abandonOutput(): void {
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    this.outputEnded(this.stdout);
    this.outputEnded(this.stderr);
  }

  private outputEnded(splitter: LineSplitter): void {
    if (splitter.isEnded) return;
    splitter.end();
    this.openStreams -= 1;
    this.maybeFinish();
  }

  private maybeFinish(): void {
    if (this.finished || this.exit === undefined || this.openStreams > 0 || this.escalation.busy) return;
    this.finished = true;
    this.options.signal.removeEventListener('abort', this.onAbort);
    this.options.killSignal?.removeEventListener('abort', this.onKill);
    clearTimeout(this.timeoutTimer);
    clearTimeout(this.drainTimer);
    this.escalation.dispose();
    this.resolve(this.stop ?? this.exit);
  }
}
