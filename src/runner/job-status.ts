import type { JobOutcome } from '../core/outcome.js';

/**
 * How a running job stands, as GitHub's runner tells it: failed by its first failure (whose reason
 * and exit code the outcome keeps), cancelled (with the cancel's reason), timed out. A cancel counts
 * only once it changed what ran; a kill ends the job cancelled whatever its steps did.
 */
export class JobStatus {
  failed = false;
  private failureReason = '';
  /** The exit code of the step that failed the job, for `retry.when: exit-codes` on the job. */
  private failureExitCode: number | undefined;
  cancelled = false;
  /** Why, as the cancel said it (the control plane's reason, or the runner's own): the job's reason. */
  private cancelReason = 'cancelled';
  /**
   * The cancellation changed what ran: a step was interrupted, or a step was decided after it. A
   * cancel that arrives once every step has ended (fail-fast, when another leg fails at the same
   * moment) changes nothing, and the job ends as its steps did.
   */
  cancelTookEffect = false;
  timedOut = false;

  /** The job's first failure fails it; later ones change nothing. */
  fail(reason: string, exitCode?: number): void {
    if (this.failed) return;
    this.failed = true;
    this.failureReason = reason;
    // A step that exited 0 and failed was failed by a workflow command: 0 is no failure's exit code.
    this.failureExitCode = exitCode === 0 ? undefined : exitCode;
  }

  /** False when the job was cancelled already: the first cancel's reason stays. */
  cancel(reason: string): boolean {
    if (this.cancelled) return false;
    this.cancelled = true;
    this.cancelReason = reason;
    return true;
  }

  /** Whether the job was stopped: cancelled, timed out or killed (`killSignal` aborted). */
  stopped(killSignal: AbortSignal): boolean {
    return this.cancelled || this.timedOut || killSignal.aborted;
  }

  outcome(killSignal: AbortSignal): JobOutcome {
    if (this.timedOut) return { kind: 'timed_out' };
    if ((this.cancelled && this.cancelTookEffect) || killSignal.aborted) {
      const reason = this.cancelled ? this.cancelReason : abortReasonOf(killSignal);
      return { kind: 'cancelled', reason };
    }
    if (this.failed) {
      return this.failureExitCode === undefined
        ? { kind: 'failed', reason: this.failureReason }
        : { kind: 'failed', reason: this.failureReason, exitCode: this.failureExitCode };
    }
    return { kind: 'succeeded' };
  }
}

/** A cancel's reason as its signal carries it (RunnerAgent aborts with the reason it was given). */
export function abortReasonOf(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (typeof reason === 'string' && reason !== '') return reason;
  return reason instanceof Error ? reason.message : 'cancelled';
}
