import type { RunEvent } from '../../engine/events.js';

/** What numbering a step attempt needs: which step it is of, which attempt, and the total if reported. */
export interface NumberedStepAttempt {
  /** Absent means 1. */
  readonly jobAttempt?: number;
  readonly index: number;
  /** Absent means 1. */
  readonly attempt?: number;
  /** The attempts in all its `retry:` allows (StepReport.maxAttempts); absent from an older runner. */
  readonly maxAttempts?: number;
}

/**
 * `attempt 2 of 3`, or `attempt 2` when the total is not known (a runner older than
 * StepReport.maxAttempts reports none): as the runner's own line says it (`attempt 1 of 3 failed …`).
 */
export function stepAttemptText(attempt: number, total: number | undefined): string {
  return total === undefined ? `attempt ${attempt}` : `attempt ${attempt} of ${total}`;
}

/** A step of one job attempt, as a key of stepAttemptTotals. */
export const stepOfJobAttempt = (step: NumberedStepAttempt) => `${step.jobAttempt ?? 1}:${step.index}`;

/**
 * The attempts in all of each step (by `key`), from whichever of its attempts carries it: the runner
 * reports it with each attempt's end, so the record of a running attempt has none while the ended
 * ones before it do, and the total is the same for every attempt of a step in one job attempt.
 */
export function stepAttemptTotals<S extends NumberedStepAttempt>(
  steps: Iterable<S>,
  key: (step: S) => string,
  into = new Map<string, number>(),
): Map<string, number> {
  for (const step of steps) if (step.maxAttempts !== undefined) into.set(key(step), step.maxAttempts);
  return into;
}

type StepStarted = Extract<RunEvent, { readonly type: 'step.started' }>;

/**
 * The attempts in all of a run's retried steps as it goes, from its step.completed events, for the live
 * views to number a step's later attempt as it starts (`▶ build (attempt 2 of 3)`): the attempt before
 * it was reported ended, with the total, before this one started.
 */
export class LiveStepAttempts {
  readonly #totals = new Map<string, number>();

  onEvent(event: RunEvent): void {
    if (event.type !== 'step.completed' || event.step.maxAttempts === undefined) return;
    this.#totals.set(liveKey(event.jobId, event.jobAttempt, event.step.index), event.step.maxAttempts);
  }

  /**
   * ` (attempt 2 of 3)` for a later attempt of a step whose total was reported; nothing for a first
   * attempt (not known yet to be retried) nor from a runner older than the total, as before it.
   */
  suffix(event: StepStarted): string {
    const attempt = event.attempt ?? 1;
    const total = this.#totals.get(liveKey(event.jobId, event.jobAttempt, event.index));
    return attempt > 1 && total !== undefined ? ` (${stepAttemptText(attempt, total)})` : '';
  }
}

const liveKey = (jobId: string, jobAttempt: number | undefined, index: number) =>
  `${jobId}:${jobAttempt ?? 1}:${index}`;
