import { asError } from '../core/error-message.js';
import type { RunSubmission, SubmitOutcome } from '../store/submissions.js';
import type { RunHandle } from './control-plane.js';
import type { NewRunGroup, RunIdentity, WorkflowGroup } from './workflow-group.js';

/**
 * Admission rules for one run (see RunStore.submitRun; the engine counts the planned jobs itself), and
 * the workflow's concurrency group, which the run waits for, `queued`, before its first job: one
 * evaluated already, or a NewRunGroup, evaluated once the run is created, with its ids.
 */
export type SubmitOptions = Pick<RunSubmission, 'queueCapacity' | 'idempotency'> & {
  readonly group?: WorkflowGroup | NewRunGroup;
};

/** The run's group now it has its ids; the error when they make it fail where stand-ins did not. */
export function groupOfCreatedRun(
  group: SubmitOptions['group'],
  identity: RunIdentity,
): WorkflowGroup | undefined | Error {
  if (group === undefined || !('of' in group)) return group;
  try {
    return group.of(identity);
  } catch (error) {
    return asError(error);
  }
}

/** The store's verdict, with the run started when it was created. */
export type Submission =
  | { readonly kind: 'started'; readonly handle: RunHandle }
  /** Nothing was started: a run with the idempotency key exists (maybe run by another process). */
  | Exclude<SubmitOutcome, { readonly kind: 'created' }>;
