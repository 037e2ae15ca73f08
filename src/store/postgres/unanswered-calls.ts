import { clearInterval, setInterval } from 'node:timers';

/** What the store tells of a Postgres that leaves its calls unanswered (UnansweredWatch.report). */
export type UnansweredEvent =
  /** The oldest call unanswered has waited `forMs` (at least UnansweredWatch.afterMs); once a stall. */
  | { readonly kind: 'waiting'; readonly server: string; readonly forMs: number }
  /** The call that stalled ended (answered, or failed with the connection), `afterMs` after it was made. */
  | { readonly kind: 'answered'; readonly server: string; readonly afterMs: number };

/**
 * Asked for by whoever opens the store, to say so when Postgres stops answering: a server that hangs,
 * or a network that drops its packets, leaves a statement waiting for ever (node-postgres sets no
 * timeout, and a statement may rightly wait for a lock), and with it the command, without a word.
 */
export interface UnansweredWatch {
  readonly afterMs: number;
  readonly report: (event: UnansweredEvent) => void;
}

/**
 * Looks at the oldest unanswered call (`oldestSince`: when it was made, in Date.now() time, or
 * undefined when none is waiting) every second or so, and reports a stall once, and its end. The
 * timer does not keep the process alive.
 */
export class UnansweredCalls {
  #stalledSince: number | undefined;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly server: string,
    private readonly oldestSince: () => number | undefined,
    private readonly watch: UnansweredWatch,
    private readonly now: () => number = Date.now,
  ) {
    this.#timer = setInterval(() => this.check(), Math.min(1000, Math.max(50, watch.afterMs / 2)));
    this.#timer.unref();
  }

  check(): void {
    const oldest = this.oldestSince();
    const now = this.now();
    const stalled = this.#stalledSince;
    if (stalled === undefined) {
      if (oldest === undefined || now - oldest < this.watch.afterMs) return;
      this.#stalledSince = oldest;
      this.watch.report({ kind: 'waiting', server: this.server, forMs: now - oldest });
    } else if (oldest === undefined || oldest > stalled) {
      // The call that stalled was answered: the server answers again, whatever is waiting now.
      this.#stalledSince = undefined;
      this.watch.report({ kind: 'answered', server: this.server, afterMs: now - stalled });
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
