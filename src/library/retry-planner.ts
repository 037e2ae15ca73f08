import type { TaskOutcome } from '../executors/thread/outcome.js';
import type { RunTaskOptions } from '../executors/thread/task-record.js';
import type { JobRecord } from './job-record.js';
import type { ResolvedRetryPolicy } from './options.js';
import { retryable } from './retryable.js';

/** Whether an attempt earns its job another: no; yes; or yes, and the attempt was forgiven (not counted). */
export type RetryVerdict = false | 'counted' | 'forgiven';

/**
 * Whether an attempt earns its job another, and how the next one runs, with what lost workers
 * taught. A job lost with a worker that ran other tasks beside it (`sharedWith` > 0) is a suspect,
 * not the culprit: that attempt does not count against its `maxAttempts`. From its first lost worker
 * on, each of the job's attempts runs alone on a worker (`isolated`), so a bystander's next attempt
 * succeeds, and a culprit only takes itself down, each loss then counting. At most one attempt per
 * job is forgiven: an attempt that runs alone shares its worker with nothing. A durable store is told
 * (a release `forgiven`, earnsRetry's verdict), so that its attempt bound agrees. What it knows is kept
 * aside in a WeakMap, not on the job's record: a job that never lost a worker costs nothing.
 */
export class RetryPlanner {
  /** Jobs that lost a worker, with how many of their attempts were forgiven (0 or 1). */
  private readonly forgiven = new WeakMap<JobRecord, number>();
  /** Jobs whose attempt ended without a worker beginning it, until that end is handled (rare). */
  private readonly unbegun = new Set<JobRecord>();

  /** The pool ended the job's attempt before a worker began it. */
  notBegun(job: JobRecord): void {
    this.unbegun.add(job);
  }

  /**
   * Whether the attempt that just ended is not counted for never having begun: one the pool
   * cancelled (an engine closing gives back the jobs it had not started) leaves the job's attempts
   * (and a store's, EngineQueue.settle) as they were before it. One that engine.cancel stopped
   * (`stopped`) stays counted, as the store recorded it so when it was cancelled.
   */
  uncountNotBegun(job: JobRecord, ended: TaskOutcome, stopped: boolean): boolean {
    if (this.unbegun.size === 0 || !this.unbegun.delete(job)) return false;
    if (stopped || ended.kind !== 'cancelled') return false;
    job.attempt--;
    return true;
  }

  earnsRetry(job: JobRecord, outcome: TaskOutcome, retry: ResolvedRetryPolicy): RetryVerdict {
    if (!retryable(outcome, retry.retryOn)) return false;
    let forgiven = this.forgiven.get(job);
    let forgivenNow = false;
    if (outcome.kind === 'worker_lost' && forgiven === undefined) {
      forgiven = (outcome.sharedWith ?? 0) > 0 ? 1 : 0;
      forgivenNow = forgiven === 1;
      this.forgiven.set(job, forgiven);
    }
    if (job.attempt - (forgiven ?? 0) >= retry.maxAttempts) return false;
    return forgivenNow ? 'forgiven' : 'counted';
  }

  /**
   * The pool's options for the attempt `job.attempt`, past the fast path (a first attempt without a
   * timeout of its own takes none).
   */
  runOptions(job: JobRecord): RunTaskOptions {
    const isolated = job.attempt > 1 && this.forgiven.has(job);
    return { attempt: job.attempt, timeoutMs: job.options.timeoutMs, isolated };
  }
}
