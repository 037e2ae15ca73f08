import { ExitCode } from './exit-codes.js';
import type { FollowSignal } from './follow-signals.js';

/**
 * Ctrl-C and SIGTERM while `submit` packs and uploads the workspace, before any run exists: the
 * first aborts `signal` (the packing and the upload stop, the temporary bundle is removed) and is
 * told to `onFirst` (to end the live progress line, which would otherwise stay without a newline
 * under the shell's prompt); the command then exits 130 (143 for SIGTERM) with nothing submitted.
 * A second one ends the process by that signal at once, as it would have without listeners.
 */
export class SubmitInterrupt {
  readonly #abort = new AbortController();
  #first: FollowSignal | undefined;
  readonly #onSigint = () => this.#take('SIGINT');
  readonly #onSigterm = () => this.#take('SIGTERM');

  private constructor(private readonly onFirst: (signal: FollowSignal) => void) {}

  /** Listening from now until `close`. */
  static listen(onFirst: (signal: FollowSignal) => void): SubmitInterrupt {
    const interrupt = new SubmitInterrupt(onFirst);
    process.on('SIGINT', interrupt.#onSigint);
    process.on('SIGTERM', interrupt.#onSigterm);
    return interrupt;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** 130 after Ctrl-C, 143 after SIGTERM; undefined while no signal came. */
  get exitCode(): number | undefined {
    if (this.#first === undefined) return undefined;
    return this.#first === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted;
  }

  /** Stops listening; idempotent. */
  close(): void {
    process.off('SIGINT', this.#onSigint);
    process.off('SIGTERM', this.#onSigterm);
  }

  #take(signal: FollowSignal): void {
    if (this.#first !== undefined) {
      this.close();
      process.kill(process.pid, signal);
      return;
    }
    this.#first = signal;
    this.onFirst(signal);
    this.#abort.abort();
  }
}
