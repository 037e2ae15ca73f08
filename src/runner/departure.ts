/** How `RunnerAgent.deregister` ended (see there). */
export type DeregisterEnd = 'answered' | 'server gone' | 'unanswered';

/**
 * A runner's deregister under way: its reason, and the wait for the control plane's answer. The wait
 * runs only while a session is up to carry the answer (`awaitAnswer`, `pause`); `giveUp` ends it at
 * once. It settles once: later calls of `settle` are ignored.
 */
export class Departure {
  readonly ended: Promise<DeregisterEnd>;
  #resolve: (end: DeregisterEnd) => void = () => undefined;
  #timer: NodeJS.Timeout | undefined;
  #settled = false;
  readonly #abandon = (): void => this.settle('unanswered');

  constructor(
    readonly reason: string,
    private readonly timeoutMs: number,
    private readonly giveUp: AbortSignal | undefined,
    private readonly onSettled: () => void,
  ) {
    this.ended = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    giveUp?.addEventListener('abort', this.#abandon, { once: true });
  }

  settle(end: DeregisterEnd): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#timer);
    this.giveUp?.removeEventListener('abort', this.#abandon);
    this.onSettled();
    this.#resolve(end);
  }

  /** Starts waiting `timeoutMs` for the answer, once a session is up to carry it (idempotent). */
  awaitAnswer(): void {
    if (this.#settled) return;
    this.#timer ??= setTimeout(() => this.settle('unanswered'), this.timeoutMs);
  }

  /** The session went down holding completions: the wait starts again on the next one. */
  pause(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
