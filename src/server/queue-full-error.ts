import type { QueueFull } from '../store/submissions.js';
import { ApiError } from './api-error.js';

/**
 * The API's refusal of a submission or a re-run for the queue capacity (--queue-capacity): 422
 * VK_QUEUE_FULL when `asked` ('this run', 'this re-run') alone has more jobs than the capacity, as it
 * can never be queued, so no 429 (and Retry-After) to loop on; else 429. `unchanged` says what did not
 * happen ('nothing was submitted').
 */
export function queueFullError(full: QueueFull, asked: string, unchanged: string): ApiError {
  const { capacity, unfinishedJobs, plannedJobs } = full;
  if (plannedJobs > capacity)
    return new ApiError(
      422,
      'VK_QUEUE_FULL',
      `${asked} alone has ${plannedJobs} jobs, more than the queue capacity of ${capacity} (--queue-capacity), so it can never be queued; ${unchanged}`,
    );
  return new ApiError(
    429,
    'VK_QUEUE_FULL',
    `the queue holds ${unfinishedJobs} unfinished jobs; ${plannedJobs} more would exceed its capacity of ${capacity}; ${unchanged}`,
  );
}
