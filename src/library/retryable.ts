import type { TaskOutcome } from '../executors/thread/outcome.js';

/** Whether a retry policy's `retryOn` earns this attempt's outcome another attempt. */
export function retryable(outcome: TaskOutcome, retryOn: readonly string[]): boolean {
  switch (outcome.kind) {
    case 'failed':
      return outcome.reason === 'threw' && retryOn.includes('threw');
    case 'timed_out':
    case 'worker_lost':
      return retryOn.includes(outcome.kind);
    default:
      return false;
  }
}
