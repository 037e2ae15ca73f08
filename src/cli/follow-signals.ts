import { ExitCode } from './exit-codes.js';

export type FollowSignal = 'SIGINT' | 'SIGTERM';

/**
 * Ctrl-C and SIGTERM for a command that starts a run on a server and follows it (`submit --follow`,
 * `rerun --follow`), taken from just before the request that starts the run: a signal while that
 * request is out is kept, and told to the follower (`onFirst`) once the run exists, so that the run is
 * cancelled rather than left running unwatched by a process the signal killed, as it was before any
 * listener. The first signal is the follower's to act on (it asks the server to cancel the run); a
 * second stops following at once (`stop`). A second one before there is a follower (the server is slow
 * to answer, or restarting) ends the process by that signal, as it would have without listeners.
 */
export class FollowSignals {
  readonly #stop = new AbortController();
  #first: FollowSignal | undefined;
  #count = 0;
  #terminated = false;
  #onFirst: ((signal: FollowSignal) => void) | undefined;
  readonly #onSigint = () => this.#take('SIGINT');
  readonly #onSigterm = () => this.#take('SIGTERM');

  private constructor() {}

  /** Listening from now until `close`. */
  static listen(): FollowSignals {
    const signals = new FollowSignals();
    process.on('SIGINT', signals.#onSigint);
    process.on('SIGTERM', signals.#onSigterm);
    return signals;
  }

  /** Aborted by a second signal, or by `stopFollowing`. */
  get stop(): AbortSignal {
    return this.#stop.signal;
  }

  get interrupted(): boolean {
    return this.#count > 0;
  }

  /** The exit code of a follow that a signal interrupted: 143 once a SIGTERM came, else 130. */
  get exitCode(): number {
    return this.#terminated ? ExitCode.terminated : ExitCode.interrupted;
  }

  /** `handler` is called on the first signal: at once when it came already. */
  onFirst(handler: (signal: FollowSignal) => void): void {
    this.#onFirst = handler;
    if (this.#first !== undefined) handler(this.#first);
  }

  stopFollowing(): void {
    this.#stop.abort();
  }

  /** Stops listening; idempotent. */
  close(): void {
    process.off('SIGINT', this.#onSigint);
    process.off('SIGTERM', this.#onSigterm);
  }

  #take(signal: FollowSignal): void {
    this.#count++;
    if (signal === 'SIGTERM') this.#terminated = true;
    if (this.#count > 1 && this.#onFirst === undefined) {
      this.close();
      process.kill(process.pid, signal);
      return;
    }
    if (this.#count > 1) {
      this.#stop.abort();
      return;
    }
    this.#first = signal;
    if (this.#onFirst !== undefined) this.#onFirst(signal);
    else
      process.stderr.write(
        `\n${signal}: the run is cancelled as soon as the server has started it (${signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} again to stop at once)\n`,
      );
  }
}
