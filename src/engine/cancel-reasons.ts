import type { MembershipEnd } from './group-membership.js';

/**
 * Why a run or a job was cancelled, in the words stored as the job's reason and shown by `valkyrie
 * show`, its `--json`, the run's events and the job's log (as GitHub says "Canceling since a higher
 * priority waiting request for 'G' exists"). One wording per cause: each cause's text is made here.
 */

/** A run cancel that names no cause (RunHandle.cancel without a reason). */
export const runCancelledReason = 'the run was cancelled';

/** A cancel request that names no requester: `POST /api/v1/runs/:id/cancel` without a `reason`. */
export const cancelRequestReason = 'cancelled by a cancel request (valkyrie cancel or the API)';

/**
 * A cancel request that says who or what made it (the API's optional `reason`, e.g. `valkyrie submit
 * --follow received SIGTERM`); the generic reason without one.
 */
export function cancelRequestReasonFrom(requester: string | undefined): string {
  return requester === undefined ? cancelRequestReason : `cancelled by a cancel request (${requester})`;
}

/** Ctrl-C (SIGINT) or SIGTERM of the process driving the run (`valkyrie run`, `valkyrie resume`). */
export function interruptedReason(signal: 'SIGINT' | 'SIGTERM'): string {
  return `the run was interrupted (${signal})`;
}

/**
 * The process driving the run found its stdout or stderr closed (`valkyrie run … | head`), or could
 * not write it (`> /dev/full`): `what` is as closed-output.ts says it, `stdout closed (EPIPE)`,
 * `stdout could not be written (ENOSPC)`.
 */
export function closedOutputReason(what: string): string {
  return `the run was interrupted: its ${what}`;
}

/**
 * A concurrency group ended its member: the run (workflow-level `concurrency:`) or the job (job-level).
 * `replaced`: while it waited; `cancel-requested`: while it ran, by a newer one with cancel-in-progress.
 */
export function groupCancelReason(member: 'run' | 'job', group: string, why: MembershipEnd): string {
  const name = JSON.stringify(group);
  switch (why) {
    case 'replaced':
      return `replaced by a newer ${member} of concurrency group ${name}`;
    case 'cancel-requested':
      return `cancelled by a newer ${member} of concurrency group ${name}`;
    case 'lost':
      return `the ${member} lost its place in concurrency group ${name} (its process stalled past the group's stale interval, or another process took its run over)`;
    case 'unavailable':
      return `concurrency group ${name} could not be joined`;
  }
}
