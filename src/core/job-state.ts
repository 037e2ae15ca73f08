import { ValkyrieError } from './errors.js';
import type { JobStatus } from './outcome.js';

/**
 * The job state machine, in one place. `offered`/`running` may fall back to `queued` (decline, lease
 * expiry, retry); terminal states are final.
 */
const allowed: Record<JobStatus, readonly JobStatus[]> = {
  pending: ['queued', 'skipped', 'cancelled', 'failed'],
  queued: ['offered', 'running', 'cancelled', 'skipped', 'failed'],
  offered: ['running', 'queued', 'cancelled', 'failed'],
  running: ['succeeded', 'failed', 'cancelled', 'timed_out', 'queued'],
  succeeded: [],
  failed: [],
  cancelled: [],
  timed_out: [],
  skipped: [],
};

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return allowed[from].includes(to);
}

export function assertTransition(jobName: string, from: JobStatus, to: JobStatus): void {
  if (!canTransition(from, to)) {
    throw new ValkyrieError('VK_ILLEGAL_TRANSITION', `job ${jobName}: cannot go from ${from} to ${to}`);
  }
}
