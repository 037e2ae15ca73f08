import type { ErrorCode } from '../../core/errors.js';

/** An error as it crosses the thread boundary: plain data, never an Error instance. */
export interface TaskError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** A string `code` property of the thrown error, when it had one (`ERR_MODULE_NOT_FOUND`, …). */
  readonly code?: string;
  /**
   * The thrown error's `cause`, described the same way, down to 8 levels (`fetch failed` says why
   * only there: `connect ECONNREFUSED …`). A cause that is not an Error is `NonErrorCause`, its
   * message the value as `util.inspect` shows it.
   */
  readonly cause?: TaskError;
  /**
   * An AggregateError's `errors` (`Promise.any`, a connect that tried several addresses), each
   * described as `cause` is; a value that is not an Error is `NonErrorValue`. At most 100 errors
   * are described per failure, causes and nested `errors` included, and none that loops back.
   */
  readonly errors?: readonly TaskError[];
}

/**
 * Why a task failed, from the retry policy's point of view:
 * - `threw`: the task function threw or rejected (the usual, often retryable, failure);
 * - `module`: its module could not be loaded or does not export that function (retrying won't help);
 * - `input`: its input cannot be copied to a worker (a function, a symbol, …);
 * - `output`: it returned something that cannot be copied back.
 */
export type TaskFailureReason = 'threw' | 'module' | 'input' | 'output';

/**
 * Why a worker went away with tasks on it. None of these is the task's own failure, though the task
 * may have caused it (a `process.exit`, a busy loop, an allocation past `resourceLimits`):
 * - `crashed`: an exception nothing caught (an error thrown from a timer, an unhandled rejection);
 * - `exited`: code on the worker called `process.exit`;
 * - `resource_limits`: it ran out of the memory `resourceLimits` allows;
 * - `unresponsive`: its event loop stopped turning (missed heartbeats) and the pool terminated it;
 * - `terminated`: the pool terminated it because another task on it ignored its abort signal.
 */
export type WorkerLossReason = 'crashed' | 'exited' | 'resource_limits' | 'unresponsive' | 'terminated';

/** How one task run ended. A lost worker is not a task failure; a timeout or cancellation neither. */
export type TaskOutcome<Output = unknown> =
  | { readonly kind: 'succeeded'; readonly output: Output }
  | { readonly kind: 'failed'; readonly reason: TaskFailureReason; readonly error: TaskError }
  | { readonly kind: 'timed_out'; readonly timeoutMs: number }
  | {
      readonly kind: 'cancelled';
      readonly reason: string;
      /**
       * Set when nobody asked for the cancellation and something refused the job instead: the
       * refusing error's code (the library: a store's refusal of its enqueue, `VK_QUEUE_FULL` at
       * capacity, `VK_STORE_UNREACHABLE` with the database gone, `VK_IDEMPOTENCY_CONFLICT`). Absent
       * for a cancellation by a caller, a signal, or an engine closing.
       */
      readonly code?: ErrorCode;
    }
  | {
      readonly kind: 'worker_lost';
      readonly reason: WorkerLossReason;
      readonly message: string;
      /**
       * How many other tasks were running on the worker when it was lost. 0: the task ran alone, so
       * it most likely ended the worker itself; more, and it may be a bystander — run it again with
       * `isolated: true` to tell. Absent when it never ran (no worker could start).
       */
      readonly sharedWith?: number;
    };

export type TaskOutcomeKind = TaskOutcome['kind'];

/**
 * The outcome of a task that returned nothing, the most common one: one frozen object for all of
 * them, so that settling such a task allocates nothing (each is read, never changed).
 */
export const succeededWithoutOutput: TaskOutcome<undefined> = Object.freeze({
  kind: 'succeeded',
  output: undefined,
});
