import type { RunStatus } from '../../core/outcome.js';
import { visible } from '../../core/visible-text.js';
import { waitingGroup } from '../submission-report.js';
import { formatDuration } from './format.js';

/** What the lines about a run's concurrency group read of it: a local run's record or a server's view. */
export interface GroupPlacedRun {
  readonly id: string;
  readonly status: RunStatus | string;
  readonly createdAt: number;
  readonly startedAt?: number;
  /** GitHub's run_attempt; absent means 1. */
  readonly attempt?: number;
  readonly concurrency?: {
    readonly group: string;
    readonly state: string;
    readonly ahead?: number;
    /** When the run's current attempt joined the group (RunConcurrency.joinedAt). */
    readonly joinedAt?: number;
  };
}

/**
 * Under `valkyrie show`'s heading: the run's place in its workflow's concurrency group while it waits
 * for it, or that it ended before the group gave it the slot (replaced by a newer run, or cancelled).
 * `interrupted`: a local run whose process died, which waits for nothing. `serverFlags`: what the
 * hint's `valkyrie cancel` needs to reach the run's server (` --server URL`), if anything.
 */
export function groupPlaceLine(
  run: GroupPlacedRun,
  interrupted = false,
  serverFlags = '',
): string | undefined {
  const place = run.concurrency;
  if (place === undefined) return undefined;
  const group = visible(place.group);
  if (waitingGroup(run) !== undefined && !interrupted) {
    const ahead = place.ahead === undefined ? '' : ` (${place.ahead} ahead)`;
    return `waiting for concurrency group ${group}${ahead}; valkyrie cancel ${run.id}${serverFlags} gives up its place`;
  }
  if (run.status !== 'cancelled' || run.startedAt !== undefined) return undefined;
  if (place.state === 'replaced')
    return `replaced by a newer run of concurrency group ${group} before it started`;
  return `cancelled while it waited for concurrency group ${group}`;
}

/**
 * Under `valkyrie show`'s heading: how long a run that started waited for its workflow's concurrency
 * group first (from its creation, or a re-run from when it joined the group, until the group admitted
 * it), which its duration leaves out, as GitHub shows a run's queued time apart from its run time.
 * Nothing for a wait under a second, nor for a re-run whose joining was not recorded.
 */
export function groupWaitLine(run: GroupPlacedRun): string | undefined {
  if (run.concurrency === undefined || run.startedAt === undefined) return undefined;
  // A re-run's start is its own admission, but its creation is the first attempt's: the time between
  // is no wait (a re-run an hour later would show "waited 1h"). Its wait counts from its own join.
  const since = (run.attempt ?? 1) > 1 ? run.concurrency.joinedAt : run.createdAt;
  if (since === undefined) return undefined;
  const waited = run.startedAt - since;
  if (waited < 1_000) return undefined;
  return `waited ${formatDuration(waited)} for concurrency group ${visible(run.concurrency.group)} before it started`;
}
