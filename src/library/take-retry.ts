import { isStoreError } from '../core/errors.js';
import { formatDelay } from '../core/retry-delay.js';
import { type BackoffPolicy, backoffDelayMs } from '../protocol/backoff.js';

/** The ceiling of the first pause before the engine claims again after its store failed a claim. */
export const takeRetryMs = 1000;
const takeBackoff: BackoffPolicy = { baseMs: takeRetryMs, capMs: 30_000 };

/**
 * What the engine does when a `take` from its queue fails. A store's failure (SQLite locked past its
 * busy timeout by another process, a Postgres connection lost) is the store's, not a bug: it is
 * reported as a process warning (`ValkyrieStoreWarning`), and the engine claims again after a pause
 * (its jobs stay in the store meanwhile) — rethrown, it would end the process with the engine's jobs
 * still leased. The pause is a runner's reconnect backoff (protocol/backoff.ts): its ceiling doubles
 * with each failure in a row up to 30 s, so that a database down for an hour is not a warning a
 * second, and it is jittered, so that the engines of a fleet that lost their database together do
 * not all come back in the same instant. A take that succeeds resets it. Any other error is a bug,
 * and is rethrown as before.
 */
export class TakeRetry {
  #failures = 0;

  constructor(
    private readonly pump: () => void,
    private readonly policy: BackoffPolicy = takeBackoff,
    private readonly random: () => number = Math.random,
  ) {}

  succeeded(): void {
    this.#failures = 0;
  }

  failed(error: unknown): void {
    if (!isStoreError(error)) {
      queueMicrotask(() => {
        throw error;
      });
      return;
    }
    const pauseMs = backoffDelayMs(this.#failures++, this.random, this.policy);
    process.emitWarning(
      `the engine could not claim jobs from its store (${error.code}: ${error.message}); it claims again in ${formatDelay(pauseMs)}`,
      { type: 'ValkyrieStoreWarning', code: error.code },
    );
    // Not unref'd: until it fires, nothing else may be waiting for work, and the jobs in the store need it.
    setTimeout(this.pump, pauseMs);
  }
}
