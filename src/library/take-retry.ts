import { isStoreError } from '../core/errors.js';

/** The pause before the engine claims again after its store failed a claim. */
export const takeRetryMs = 1000;

/**
 * What the engine does when a `take` from its queue fails. A store's failure (SQLite locked past its
 * busy timeout by another process, a Postgres connection lost) is the store's, not a bug: it is
 * reported as a process warning (`ValkyrieStoreWarning`), and the engine claims again after a pause
 * (its jobs stay in the store meanwhile) — rethrown, it would end the process with the engine's jobs
 * still leased. Any other error is a bug, and is rethrown as before.
 */
export function retryFailedTake(error: unknown, pump: () => void, retryMs = takeRetryMs): void {
  if (!isStoreError(error)) {
    queueMicrotask(() => {
      throw error;
    });
    return;
  }
  const seconds = retryMs / 1000;
  process.emitWarning(
    `the engine could not claim jobs from its store (${error.code}: ${error.message}); it claims again in ${seconds} s`,
    { type: 'ValkyrieStoreWarning', code: error.code },
  );
  // Not unref'd: until it fires, nothing else may be waiting for work, and the jobs in the store need it.
  setTimeout(pump, retryMs);
}
