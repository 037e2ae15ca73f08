import type { GroupClock, JoinRequest } from '../../src/core/concurrency-group.js';

/** The gate's default: a member whose heartbeat is older than this is dropped. */
export const staleAfterMs = 10_000;

/** A group call at `now`. */
export const at = (now: number): GroupClock => ({ now, staleBefore: now - staleAfterMs });

/** A join of group `deploy` as `memberId`, GitHub's default (replace the pending member). */
export const request = (memberId: string, overrides: Partial<JoinRequest> = {}): JoinRequest => ({
  group: 'deploy',
  memberId,
  cancelInProgress: false,
  queue: false,
  ...overrides,
});
