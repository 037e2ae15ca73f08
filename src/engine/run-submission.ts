import type { RunRecord } from '../store/runs.js';
import type { RunHandle } from './control-plane.js';

/** Admission rules for one run (see RunStore.submitRun). */
export interface SubmitOptions {
  /** Refuse the run, whole, when the store's unfinished jobs plus its own would exceed this. */
  readonly queueCapacity?: number;
  /** Return the run submitted with this key within the window instead of starting another. */
  readonly idempotency?: { readonly key: string; readonly windowMs: number };
}

export type Submission =
  | { readonly kind: 'started'; readonly handle: RunHandle }
  /** Nothing was started: a run with the idempotency key exists (maybe run by another process). */
  | { readonly kind: 'duplicate'; readonly run: RunRecord }
  /** Nothing was written. */
  | {
      readonly kind: 'queue_full';
      readonly capacity: number;
      readonly unfinishedJobs: number;
      readonly plannedJobs: number;
    };
