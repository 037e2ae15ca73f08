import type { RunSubmission, SubmitOutcome } from '../store/submissions.js';
import type { RunHandle } from './control-plane.js';
import type { WorkflowGroup } from './workflow-group.js';

/**
 * Admission rules for one run (see RunStore.submitRun; the engine counts the planned jobs itself), and
 * the workflow's concurrency group, which the run waits for, `queued`, before its first job.
 */
export type SubmitOptions = Pick<RunSubmission, 'queueCapacity' | 'idempotency'> & {
  readonly group?: WorkflowGroup;
};

/** The store's verdict, with the run started when it was created. */
export type Submission =
  | { readonly kind: 'started'; readonly handle: RunHandle }
  /** Nothing was started: a run with the idempotency key exists (maybe run by another process). */
  | Exclude<SubmitOutcome, { readonly kind: 'created' }>;
