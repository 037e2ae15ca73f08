import { writeSync } from 'node:fs';
import { interruptedReason } from '../engine/cancel-reasons.js';
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
 */
export class RunSignals implements Interruption {
  terminated = false;
  private count = 0;
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
  }

  unlisten(): void {
    process.off('SIGINT', this.onSigint);
    process.off('SIGTERM', this.onSigterm);
  }

  /** The run to cancel from now on; a signal that came while it was being started reaches it now. */
  drive(run: Cancellable): void {
    this.run = run;
    if (this.count > 0) run.cancel(this.count > 1, this.reason);
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
    writeSync(2, `\n${signal} again: exiting without waiting for the run to finish stopping; ${left}\n`);
    process.exit(this.terminated ? ExitCode.terminated : ExitCode.interrupted);
  }
}
