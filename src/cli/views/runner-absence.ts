import type { LeaseExpiryEnd } from '../../engine/runner-absence.js';
import { formatDuration } from './format.js';
import { isoSeconds } from './text-table.js';

/**
 * A running job's runner that is not connected, as a server's run view tells it
 * (`runnerDisconnected`); what this client could not read of it is absent.
 */
export interface ShownRunnerAbsence {
  /** When its connection closed; unknown for a runner that has not connected since a server restart. */
  readonly since?: number;
  readonly leaseExpiresAt?: number;
  readonly atExpiry?: LeaseExpiryEnd;
}

const whatHappens: Record<LeaseExpiryEnd, string> = {
  requeue: 'is requeued',
  fail: 'fails as runner_lost',
  cancel: 'ends cancelled',
};

/**
 * Why a job listed `running` may be running nowhere: `runner disconnected 8.0s ago; the job is requeued
 * if it is not back by 2026-05-01T14:22:05Z`. Says only what the view told: without the lease's end,
 * only since when the runner is gone (or that it is, when that is not known either). The time is ISO
 * 8601 in UTC, as `show`'s other times are (a stale write's), whatever the machine's locale.
 */
export function runnerAbsenceText(absence: ShownRunnerAbsence, now = Date.now()): string {
  const { since, leaseExpiresAt, atExpiry } = absence;
  const gone =
    since === undefined
      ? 'runner not connected to the server'
      : `runner disconnected ${formatDuration(Math.max(0, now - since))} ago`;
  if (leaseExpiresAt === undefined || atExpiry === undefined) return gone;
  const then = isoSeconds(leaseExpiresAt);
  return leaseExpiresAt > now
    ? `${gone}; the job ${whatHappens[atExpiry]} if it is not back by ${then}`
    : `${gone}; its lease expired at ${then}: the job ${whatHappens[atExpiry]}`;
}
