import { isRecord } from '../core/is-record.js';
import { type LeaseExpiryEnd, leaseExpiryEnds } from '../engine/runner-absence.js';
import type { ShownRunnerAbsence } from './views/runner-absence.js';

const isExpiryEnd = (value: unknown): value is LeaseExpiryEnd => leaseExpiryEnds.some((end) => end === value);

/**
 * A job's `runnerDisconnected` as a server sent it, keeping what this client reads of it: a lease end
 * only with what happens then, so that the line never says when without what. `{}` without one.
 */
export function readRunnerAbsence(job: Record<string, unknown>): {
  runnerDisconnected?: ShownRunnerAbsence;
} {
  const absence = job.runnerDisconnected;
  if (!isRecord(absence)) return {};
  const { since, leaseExpiresAt, atExpiry } = absence;
  const expiry =
    typeof leaseExpiresAt === 'number' && isExpiryEnd(atExpiry) ? { leaseExpiresAt, atExpiry } : {};
  return { runnerDisconnected: { ...(typeof since === 'number' ? { since } : {}), ...expiry } };
}
