import type { JobId } from '../core/ids.js';
import { assertTransition } from '../core/job-state.js';
import type { JobStatus } from '../core/outcome.js';
import type { Priority } from '../core/priority.js';
import type { RetryPolicy } from '../core/retry-delay.js';
import type { JobSpec } from '../protocol/job-spec.js';
import type { JobPatch, JobRunner } from '../store/runs.js';
import type { ExpressionValue } from '../workflow/expressions/index.js';
import type { EndedAttempt } from './job-retry.js';

/** A leg's spec as its plan makes it, and its JSON when the plan's template can build it. */
export interface MadeSpec {
  readonly value: JobSpec;
  json(): string | undefined;
}

/** The spec of `leg`, made now (Leg.makeSpec); undefined for a leg without one. */
export function specOf(leg: Leg | undefined): JobSpec | undefined {
  return leg?.makeSpec?.(leg.id).value;
}

/** A job (one matrix leg, or a job without a matrix) as the coordinator tracks it. */
export interface Leg {
  readonly id: JobId;
  readonly key: string;
  readonly name: string;
  readonly matrix: Readonly<Record<string, ExpressionValue>>;
  readonly continueOnError: boolean;
  readonly runsOn: readonly string[];
  /**
   * Makes the leg's spec (given the leg's id), with a function that builds its JSON when its template
   * can (protocol/message-json.ts): when a lease needs it, not when the leg is planned, so that the
   * spec of every leg of a run does not live as long as the run (a control plane plans every leg of a
   * run at its start; its legs' specs outlived young-generation GCs and were copied and promoted).
   * Undefined for a leg that never runs (skipped, or failed to plan).
   */
  readonly makeSpec?: (jobId: JobId) => MadeSpec;
  /** Absent: the job runs once. */
  readonly retry?: RetryPolicy;
  /** The current attempt, from 1. */
  attempt: number;
  /**
   * The attempt retries count from (a re-run's first; one past an attempt requeued after its runner was
   * lost, which uses up no retry). Default 1.
   */
  triesFrom?: number;
  readonly priority: Priority;
  /** Not offered to a runner before this time (ms since the epoch); a retry moves it to its delay's end. */
  notBefore?: number;
  status: JobStatus;
  startedAt?: number;
  /**
   * When the attempts that retries (or requeues) led from to the current one began: the first one's
   * start, so the run's summary gives a retried job its wall time, as `valkyrie show` does
   * (store/job-duration.ts). Absent until an attempt is retried here (a resumed or taken-over run's
   * summary counts from the current attempt's start); a re-run starts a new series.
   */
  seriesStartedAt?: number;
  finishedAt?: number;
  reason?: string;
  /** The fleet runner that started the current attempt; absent in the local mode. */
  runner?: JobRunner;
  /** The fencing token of `runner`'s lease on the current attempt; absent with `runner`. */
  fencingToken?: number;
}

/** What the control plane must do after a coordinator decision, in order. */
export type Effect =
  | { readonly kind: 'add'; readonly leg: Leg }
  | { readonly kind: 'queue'; readonly leg: Leg }
  | { readonly kind: 'finish'; readonly leg: Leg }
  /** The running leg's runner is told to stop it, and why (the job's reason when it ends cancelled). */
  | { readonly kind: 'cancel'; readonly leg: Leg; readonly immediate: boolean; readonly reason: string }
  /**
   * The leg's attempt `ended` failed and is retried: the leg is `queued` again as attempt
   * `leg.attempt`, but may not be offered before `delayMs` have passed.
   */
  | {
      readonly kind: 'retry';
      readonly leg: Leg;
      readonly ended: EndedAttempt;
      readonly delayMs: number;
      readonly reason: string;
      /** The job log's line on it, under the ended attempt (retryLogLine, or the requeue's). */
      readonly line?: string;
    }
  /**
   * A re-run starts a new attempt of a finished leg: `ended` is kept as its earlier attempt, and the
   * leg is `pending` again as attempt `leg.attempt`, under its (possibly new) name and matrix values.
   */
  | { readonly kind: 'reopen'; readonly leg: Leg; readonly ended: EndedAttempt };

/** RunCoordinator.restore's options. */
export interface RestoreOptions {
  /** The running legs whose runners may still report them: they stay running (see restore). */
  readonly awaitingRunner?: ReadonlySet<string>;
  /**
   * When each interrupted leg (by id) was lost (run-ownership.ts, whenLost: its process's next
   * heartbeat was due): its lost attempt ends then, not at the restore. A leg not in it ends at the restore.
   */
  readonly lostAt?: ReadonlyMap<string, number>;
}

/** A job as the store last saw it (RunStore's JobRecord), for `RunCoordinator.restore`. */
export interface StoredLeg {
  readonly id: JobId;
  readonly key: string;
  readonly name: string;
  readonly matrix: Readonly<Record<string, unknown>>;
  readonly status: JobStatus;
  readonly outputs: Readonly<Record<string, string>>;
  readonly attempt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly reason?: string;
  readonly runner?: JobRunner;
  readonly fencingToken?: number;
  /** Not offered before then: its run's or its own `not-before`, or a retry's delay. */
  readonly notBefore?: number;
  /** Leg.triesFrom as last stored (JobRecord.triesFrom); absent means 1. */
  readonly triesFrom?: number;
  /** It failed and its job-level continue-on-error let the run go on (JobRecord.continuedOnError). */
  readonly continuedOnError?: true;
  /** The attempt the run's latest re-run runs again (JobRecord.rerunAttempt): see unfinishedRerun. */
  readonly rerunAttempt?: number;
}

/**
 * The leg failed and its job-level `continue-on-error` let the run go on: as on GitHub, the job shows
 * failed while its `needs.<id>.result` reads `success` and the run can succeed. Not a leg its
 * `timeout-minutes` stopped: GitHub cancels that job, and continue-on-error does not cover a cancel
 * (its `cancelled` reaches the run).
 */
export function continuedOnError(leg: Pick<Leg, 'continueOnError' | 'status'>): boolean {
  return leg.continueOnError && leg.status === 'failed';
}

/** Every change of a leg's status goes through the job state machine in core/. */
export function moveLeg(leg: Leg, to: JobStatus): void {
  assertTransition(leg.name, leg.status, to);
  leg.status = to;
}

/** A job's record queued at `at`, with what followers of the run on other replicas show of it. */
export function queuedPatch(leg: Leg, at: number): JobPatch {
  const { priority, notBefore } = leg;
  // Two literals, not a spread of an empty object into one: this runs for every job queued.
  return notBefore === undefined
    ? { status: 'queued', queuedAt: at, priority }
    : { status: 'queued', queuedAt: at, priority, notBefore };
}
