import { ValkyrieError } from '../core/errors.js';
import { terminalJobStatuses } from '../core/outcome.js';
import { idempotencyKeyProblem } from './idempotency-key.js';
import type { RunRecord } from './runs.js';

/** What a submission asks of the store besides creating the run. */
export interface RunSubmission {
  /**
   * The jobs the run is known to have before it starts (matrix legs of static matrices included).
   * Counted against the capacity until they finish, also while they are not added yet.
   */
  readonly plannedJobs: number;
  /** Refuse the run when the store's unfinished jobs plus `plannedJobs` would exceed this. */
  readonly queueCapacity?: number;
  /**
   * A run created with the same key less than `windowMs` ago is returned instead of a new one.
   * `fingerprint` (a hash of the request, the caller's to define) is stored with the key and returned
   * with a duplicate, so that the caller can tell a retry from another request under a reused key.
   */
  readonly idempotency?: {
    /** At most 1024 bytes of UTF-8, no NUL (idempotencyKeyProblem); else VK_USAGE, nothing written. */
    readonly key: string;
    /**
     * Whose key it is (the server's token id): keys of two scopes never match. The key is stored as
     * `scope/key`, each part bounded on its own, so a key any caller may give fits in every scope.
     */
    readonly scope?: string;
    readonly windowMs: number;
    readonly fingerprint?: string;
  };
}

/**
 * `submission` with its idempotency key as the stores keep and look it up (`scope/key`). VK_USAGE
 * naming the key when it is one no store may keep: a key of 4,000 characters failed on Postgres as
 * VK_STORE ('index row size 4016 exceeds btree version 4 maximum 2704'), where SQLite stored it.
 */
export function storedSubmission(submission: RunSubmission): RunSubmission {
  const idempotency = submission.idempotency;
  if (idempotency === undefined) return submission;
  const problem = idempotencyKeyProblem(idempotency.key);
  if (problem !== undefined)
    throw new ValkyrieError('VK_USAGE', `submitRun: submission.idempotency.key: ${problem}`);
  const { scope, ...rest } = idempotency;
  if (scope === undefined) return submission;
  const scopeProblem = /^[A-Za-z0-9_-]{1,64}$/.test(scope)
    ? undefined
    : 'expected 1 to 64 of A-Z a-z 0-9 _ -';
  if (scopeProblem !== undefined)
    throw new ValkyrieError(
      'VK_USAGE',
      `submitRun: submission.idempotency.scope: ${scopeProblem}, received ${JSON.stringify(scope)}`,
    );
  return { ...submission, idempotency: { ...rest, key: `${scope}/${idempotency.key}` } };
}

export type SubmitOutcome =
  | { readonly kind: 'created'; readonly run: RunRecord }
  /**
   * A run with the idempotency key exists within the window; nothing was written. `fingerprint`: the
   * one that run was submitted with; absent when it had none.
   */
  | { readonly kind: 'duplicate'; readonly run: RunRecord; readonly fingerprint?: string }
  /** Nothing was written. */
  | QueueFull;

/** submitRun's answer without the run: `admissible` where it would have created it. */
export type SubmitCheck =
  | { readonly kind: 'admissible' }
  | Exclude<SubmitOutcome, { readonly kind: 'created' }>;

/** An admission refused because the store's unfinished jobs plus `plannedJobs` would exceed `capacity`. */
export interface QueueFull {
  readonly kind: 'queue_full';
  readonly capacity: number;
  readonly unfinishedJobs: number;
  readonly plannedJobs: number;
}

/** The refusal when `plannedJobs` more than `unfinishedJobs` would take the store past `capacity`. */
export function queueFullOf(
  plannedJobs: number,
  capacity: number,
  unfinishedJobs: number,
): QueueFull | undefined {
  return unfinishedJobs + plannedJobs > capacity
    ? { kind: 'queue_full', capacity, unfinishedJobs, plannedJobs }
    : undefined;
}

const terminalList = terminalJobStatuses.map((status) => `'${status}'`).join(', ');

/**
 * The store's unfinished jobs: for every run not yet finished, its jobs that are not final, plus the
 * planned ones not added yet (jobs are added when their needs are done). A job a re-run runs again
 * (RunRecoveryStore.reopen marks it: `rerun_attempt`) still holds its earlier attempt's final status
 * until the re-run plans the next attempt, which may be only once its needs are done: it counts as
 * unfinished while its attempt is the one marked. `greatest` is the SQL dialect's two-argument
 * maximum (`max` in SQLite, `greatest` in Postgres).
 */
export function unfinishedJobsSql(greatest: 'max' | 'greatest'): string {
  return `SELECT coalesce(sum(
            ${greatest}(r.planned_jobs, (SELECT count(*) FROM jobs j WHERE j.run_id = r.id))
            - (SELECT count(*) FROM jobs j WHERE j.run_id = r.id AND j.status IN (${terminalList})
                 AND (j.rerun_attempt IS NULL OR j.rerun_attempt <> j.attempt))), 0) AS unfinished
          FROM runs r WHERE r.status IN ('queued', 'running')`;
}

/** The default queue capacity: unfinished jobs per store. */
export const defaultQueueCapacity = 10_000;

/** The key holder's row as submitRun reads it: the run and the request fingerprint stored with the key. */
export type KeyHolderColumns = { readonly idempotency_fingerprint: string | null };

/** A duplicate of `run`, with the fingerprint it was submitted with, if any. */
export function duplicateOf(run: RunRecord, fingerprint: string | null): SubmitCheck {
  return { kind: 'duplicate', run, ...(fingerprint === null ? {} : { fingerprint }) };
}
