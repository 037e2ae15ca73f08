import { isStoreError } from '../core/errors.js';

/** The first pause before the engine claims again after its store failed a claim; it doubles up to `maxMs`. */
export const takeRetryMs = 1000;
const maxTakeRetryMs = 30_000;

/**
 * What the engine does when a `take` from its queue fails. A store's failure (SQLite locked past its
 * busy timeout by another process, a Postgres connection lost) is the store's, not a bug: it is
 * reported as a process warning (`ValkyrieStoreWarning`), and the engine claims again after a pause
 * (its jobs stay in the store meanwhile) — rethrown, it would end the process with the engine's jobs
 * still leased. The pause doubles with each failure in a row, up to 30 s, so that a database down
 * for an hour is not a warning a second; a take that succeeds resets it. Any other error is a bug,
 * and is rethrown as before.
 */
export class TakeRetry {
  #pauseMs: number;

  constructor(
    private readonly pump: () => void,
    private readonly firstMs = takeRetryMs,
    private readonly maxMs = maxTakeRetryMs,
  ) {
    this.#pauseMs = firstMs;
  }

  succeeded(): void {
    this.#pauseMs = this.firstMs;
  }

  failed(error: unknown): void {
    if (!isStoreError(error)) {
      queueMicrotask(() => {
        throw error;
      });
      return;
    }
    const pauseMs = this.#pauseMs;
    this.#pauseMs = Math.min(this.maxMs, pauseMs * 2);
    process.emitWarning(
      `the engine could not claim jobs from its store (${error.code}: ${error.message}); it claims again in ${pauseMs / 1000} s`,
      { type: 'ValkyrieStoreWarning', code: error.code },
    );
    // Not unref'd: until it fires, nothing else may be waiting for work, and the jobs in the store need it.
    setTimeout(this.pump, pauseMs);
  }
}
