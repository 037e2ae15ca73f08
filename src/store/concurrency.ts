import type { GroupClock, GroupMember, JoinRequest, MemberState } from '../core/concurrency-group.js';
import type { GroupWatch } from './group-watchers.js';

/**
 * Concurrency-group membership, shared by every process on one store (src/core/concurrency-group.ts
 * holds the rules). Lifecycle of a member: `watch` its group → `join` once → `heartbeat` every beat
 * while it waits or runs, and whenever the watch reports a change (each call also frees a slot whose
 * holder went stale and promotes the next member) → `release` on every exit path. Each call is atomic across processes: it reads and rewrites the whole group under
 * one lock. `release` is idempotent; `heartbeat` on an unknown member answers `gone`. Groups are named
 * case-insensitively, as GitHub's (groupKeyOf): `Deploy` and `deploy` are one group.
 */
export interface ConcurrencyStore {
  join(request: JoinRequest, clock: GroupClock): Promise<MemberState>;
  heartbeat(memberId: string, clock: GroupClock): Promise<MemberState>;
  release(memberId: string, clock: GroupClock): Promise<void>;
  /**
   * Releases every member whose id starts with `prefix`, in whichever group, each as `release` would
   * (one group at a time); the count released. For the members a dead process left for work another
   * process ended (the jobs of a run it cancels), which it can name only by their ids' prefix.
   */
  releasePrefixed(prefix: string, clock: GroupClock): Promise<number>;
  /**
   * Wakes a waiting member when its group changes (a member joined, left, was replaced or promoted, or
   * was asked to cancel), so it need not poll to notice a free slot. On Postgres changes made by any
   * process on the same schema arrive (LISTEN/NOTIFY); on SQLite only those made through this store
   * (one process), and other processes' changes are seen by the member's next heartbeat. Resolves once
   * changes are being received: call it before `join`. The caller closes the watch.
   */
  watch(group: string): Promise<GroupWatch>;
  /** The group's members in join order, for views and tests. */
  list(group: string): Promise<GroupMember[]>;
}
