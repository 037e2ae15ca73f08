import { writeSync } from 'node:fs';
import { closedOutputReason, interruptedReason } from '../engine/cancel-reasons.js';
import { lostOutputWords, type OutputLoss, onOutputLost } from './closed-output.js';
import { ExitCode } from './exit-codes.js';
import { cancellingLine, type Interruption } from './run-exit.js';

/** What RunSignals stops: a started run's handle (RunHandle.cancel). */
interface Cancellable {
  cancel(immediate: boolean, reason?: string): void;
}

/**
 * Ctrl-C (SIGINT) and SIGTERM of a command that drives a run in this process (`valkyrie run`,
 * `resume`, `rerun`), counted: the first cancels the run gracefully, the second kills its steps at
 * once, and the third exits there and then. The third is for a run that cannot finish stopping: its
 * last store writes wait for a Postgres that stopped answering. To the store that exit is a crash,
 * which it survives: the run is left interrupted, and `valkyrie resume` continues it.
 *
 * A write to stdout or stderr that finds its reader gone (`valkyrie run … | head -3`, a `less` quit)
 * counts as a first signal: the run is cancelled gracefully, its if: always() steps run, and it ends
 * cancelled, as make or act end at the SIGPIPE of such a write, but cleanly. Going on to the end with
 * nobody reading would keep the shell waiting on the pipeline, silently, for the rest of the run.
 * A write that fails (`> /dev/full`, a full disk under `> run.log`) counts the same: what the run
 * would print from then on is lost, so its steps would run on unwatched — a deploy nobody can see
 * the end of — and coreutils stop at such a write too.
 */
export class RunSignals implements Interruption {
  terminated = false;
  outputLoss: OutputLoss | undefined;
  private count = 0;
  private stopWatchingOutput: (() => void) | undefined;
  /** The first signal's: that is why the run stops, whatever signal kills it after. */
  private reason = '';
  private run: Cancellable | undefined;
  private readonly onSigint = () => this.interrupt('SIGINT');
  private readonly onSigterm = () => {
    this.terminated = true;
    this.interrupt('SIGTERM');
  };

  /**
   * `beforeExit`: what must reach the terminal before the third signal's exit (buffered output);
   * `aside`: the live view's (RunView.aside), around what a signal prints.
   */
  constructor(
    private readonly beforeExit: () => void = () => {},
    private readonly aside: (write: () => void) => void = (write) => write(),
  ) {}

  get interrupted(): boolean {
    return this.count > 0;
  }

  listen(): void {
    process.on('SIGINT', this.onSigint);
    process.on('SIGTERM', this.onSigterm);
    this.stopWatchingOutput = onOutputLost((loss) => this.lost(loss));
  }

  unlisten(): void {
    process.off('SIGINT', this.onSigint);
    process.off('SIGTERM', this.onSigterm);
    this.stopWatchingOutput?.();
  }

  /** The run to cancel from now on; a signal that came while it was being started reaches it now. */
  drive(run: Cancellable): void {
    this.run = run;
    if (this.count > 0) run.cancel(this.count > 1, this.reason);
  }

  /**
   * The run has ended: an output found closed from now on (by the summary's write) has no run left to
   * cancel; the exit code says it (closed-output.ts). Signals are still taken (a store close that hangs).
   */
  runEnded(): void {
    this.stopWatchingOutput?.();
  }

  /** After a signal, the run is stopping already: a lost output changes nothing. */
  private lost(loss: OutputLoss): void {
    if (this.count > 0) return;
    this.count = 1;
    this.outputLoss = loss;
    const what = lostOutputWords(loss);
    this.reason = closedOutputReason(what);
    // Seen when it is stdout that was lost and stderr is a terminal; after bin/valkyrie.js's line
    // that says why a write failed (lostOutputLine).
    this.aside(() =>
      process.stderr.write(`\nvalkyrie: ${what}: cancelling the run (Ctrl-C to kill its steps at once)…\n`),
    );
    this.run?.cancel(false, this.reason);
  }

  private interrupt(signal: 'SIGINT' | 'SIGTERM'): void {
    this.count++;
    if (this.count === 1) this.aside(() => process.stderr.write(cancellingLine(signal)));
    this.reason ||= interruptedReason(signal);
    if (this.count < 3) {
      if (this.count === 2)
        this.aside(() =>
          process.stderr.write(`${signal} again: killing the steps (a third exits without waiting)\n`),
        );
      this.run?.cancel(this.count > 1, this.reason);
      return;
    }
    this.beforeExit();
    const left =
      this.run === undefined
        ? 'no run was started'
        : 'it is left interrupted (valkyrie resume RUN continues it)';
    // Written at once: process.stderr on a pipe is asynchronous, and exit() would drop what it holds.
    try {
      writeSync(2, `\n${signal} again: exiting without waiting for the run to finish stopping; ${left}\n`);
    } catch {
      // stderr is closed or full (EPIPE, ENOSPC): the line is lost, and the exit must still come with
      // its code, not an uncaught error's 1 in a signal handler.
    }
    process.exit(this.terminated ? ExitCode.terminated : ExitCode.interrupted);
  }
}
