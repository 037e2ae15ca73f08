import { ExitCode } from './exit-codes.js';

export type InterruptSignal = 'SIGINT' | 'SIGTERM';

/**
 * What a second Ctrl-C or SIGTERM does once the first was handed to `onFirst`. The two commands differ
 * in what is left to stop after the first:
 * - 'stop' (`submit --follow`, `rerun --follow`): the first asked the server to cancel the run, and
 *   the command keeps showing it until it has stopped; a second stops only the watching (`stop` is
 *   aborted), so the view is still flushed and the command exits with its documented 130 or 143.
 * - 'exit' (`submit` packing and uploading): the first already stopped all there was, so a second
 *   is for a clean-up that takes too long: it ends the process by that signal at once.
 */
export type SecondSignal = 'stop' | 'exit';

/**
 * Ctrl-C and SIGTERM of a client command that has a server's work under way, listened to from
 * `listen` until `close`. The first signal goes to `onFirst`; one that comes before there is a
 * handler is kept and handed over when it is set (a run being started is cancelled once the server
 * has answered with it), and told to `early` meanwhile. A second signal before there is a handler
 * ends the process by that signal, as it would have without listeners; after, it does `second`.
 */
export class InterruptSignals {
  readonly #stop = new AbortController();
  #first: InterruptSignal | undefined;
  #count = 0;
  #terminated = false;
  #onFirst: ((signal: InterruptSignal) => void) | undefined;
  readonly #onSigint = () => this.#take('SIGINT');
  readonly #onSigterm = () => this.#take('SIGTERM');

  private constructor(
    private readonly second: SecondSignal,
    private readonly early: (signal: InterruptSignal) => void,
  ) {}

  /** Listening from now until `close`. */
  static listen(second: SecondSignal, early: (signal: InterruptSignal) => void = () => {}): InterruptSignals {
    const signals = new InterruptSignals(second, early);
    process.on('SIGINT', signals.#onSigint);
    process.on('SIGTERM', signals.#onSigterm);
    return signals;
  }

  /** Aborted by a second signal ('stop'), or by `stopFollowing`. */
  get stop(): AbortSignal {
    return this.#stop.signal;
  }

  get interrupted(): boolean {
    return this.#count > 0;
  }

  /**
   * The exit code of a command that a signal interrupted: 143 once a SIGTERM came, else 130, as for
   * `valkyrie run` (a supervisor's SIGTERM after a Ctrl-C is what ended it).
   */
  get exitCode(): number {
    return this.#terminated ? ExitCode.terminated : ExitCode.interrupted;
  }

  /** `handler` is called on the first signal: at once when it came already. */
  onFirst(handler: (signal: InterruptSignal) => void): void {
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

  #take(signal: InterruptSignal): void {
    this.#count++;
    if (signal === 'SIGTERM') this.#terminated = true;
    if (this.#count > 1 && (this.#onFirst === undefined || this.second === 'exit')) {
      // With no listener left, the signal takes its default action: the process ends by it.
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
    else this.early(signal);
  }
}
