import type { RunnerLostPolicy } from '../workflow/model.js';
import { type Lease, renewedAt } from './leases.js';
import { lostJobEnd } from './lost-job.js';
import type { RunnerSession } from './runner-registry.js';

/** What the expiry of the lease of a job whose runner did not come back does to the job (lostJobEnd). */
export const leaseExpiryEnds = ['requeue', 'fail', 'cancel'] as const;
export type LeaseExpiryEnd = (typeof leaseExpiryEnds)[number];

/**
 * A running job whose runner's connection closed while it holds the job's lease. The control plane
 * waits for the runner to come back and resume the job until the lease expires (LeaseGuard.runnerAway):
 * until then the job is still `running`, on a runner nobody can reach.
 */
export interface RunnerAbsence {
  /**
   * When the runner's connection closed here. Absent when it held the lease under a control plane that
   * stopped (a restart, a takeover) and has not connected here since: when it left is not known.
   */
  readonly since?: number;
  /** When the lease expires unless the runner comes back and resumes the job. */
  readonly leaseExpiresAt: number;
  /** What happens to the job then: its `on-runner-lost:` policy, or `cancel` for a job being stopped. */
  readonly atExpiry: LeaseExpiryEnd;
}

/**
 * The absence of the holder of `lease`, a running job's, when its connection is closed; undefined
 * while it is connected. `policy`: the job's `on-runner-lost:`; `cancelling`: why its runner was told
 * to stop it, if it was (LeaseGuard.cancelReasonOf).
 */
export function runnerAbsence(
  lease: Lease<RunnerSession>,
  policy: RunnerLostPolicy,
  cancelling: string | undefined,
): RunnerAbsence | undefined {
  const { closed, closedAt } = lease.holder;
  if (!closed) return undefined;
  const end = lostJobEnd(policy, 'lease expired', cancelling);
  const atExpiry = end.kind === 'requeue' ? 'requeue' : end.status === 'cancelled' ? 'cancel' : 'fail';
  return {
    ...(closedAt === undefined ? {} : { since: closedAt }),
    leaseExpiresAt: lease.expiresAt,
    atExpiry,
  };
}

/** Why `LeaseGuard.stop` ended the job of a runner that is away, and since when it is. */
export interface RunnerAway {
  readonly why: string;
  /** As `LeaseGuardHandlers.lost`'s. */
  readonly lastKnownRunning: number;
}

/**
 * When the holder of `lease`, being lost, was last known to run its job. One whose connection closed
 * here: then (a SIGKILLed runner's closes at the kill), not when the loss is handled — a lease held
 * for its return expires a TTL later, and the attempt would seem to have run that long. Never before
 * the lease was last renewed, held or moved: a session that closed before this process held the lease
 * for it (after a restart or a takeover) says nothing of the job. A holder still connected:
 * `connectedUntil`, the caller's (its last renewal, for an expiry; now, for one lost while connected:
 * it deregistered, its credential was revoked, or it registered again without the job).
 */
export function lastKnownRunning(lease: Lease<RunnerSession>, connectedUntil: number): number {
  const { closed, closedAt } = lease.holder;
  if (!closed) return connectedUntil;
  const renewed = renewedAt(lease);
  return Math.max(renewed, closedAt ?? renewed);
}
