/**
 * Concurrency groups, as pure rules over the members of one group. A store loads a group's members
 * under a lock (SQLite: an IMMEDIATE transaction; Postgres: an advisory lock), applies one of these
 * functions and writes the result back, so every process sees the same order.
 *
 * GitHub's semantics: at most one member runs and, unless the group queues, one waits; a newer
 * member replaces the older waiting one; `cancelInProgress` also asks the running member to cancel
 * (it keeps the slot until it releases, so the newcomer starts only after it has stopped). Valkyrie's
 * `queue`: the newcomer waits behind every pending member instead of replacing them.
 */

export type MemberPhase = 'running' | 'pending' | 'replaced';

/**
 * The key a group's members are stored, locked and watched under. GitHub compares group names
 * case-insensitively (`prod` and `Prod` are one group), so a store keys on the folded name; the name
 * as written stays what views and reasons show.
 */
export function groupKeyOf(group: string): string {
  return group.toLowerCase();
}

export function sameGroup(a: string, b: string): boolean {
  return groupKeyOf(a) === groupKeyOf(b);
}

/** The process that holds a member, as it said when it joined: a process of some host. */
export interface MemberOwner {
  readonly host: string;
  readonly pid: number;
}

export interface GroupMember {
  readonly memberId: string;
  /** As stored: the group's key (groupKeyOf), not necessarily its name as a member wrote it. */
  readonly group: string;
  /** Join order within the group; pending members are promoted lowest first. */
  readonly seq: number;
  readonly phase: MemberPhase;
  /** A newer member joined with cancel-in-progress while this one ran. */
  readonly cancelRequested: boolean;
  /** The member that replaced this one (phase `replaced`). */
  readonly replacedBy?: string;
  readonly joinedAt: number;
  /** The last time the member's process showed it was alive; older than `staleBefore` frees the slot. */
  readonly heartbeatAt: number;
  /** The process that waits or runs as this member, when it joined saying so (JoinRequest.owner). */
  readonly owner?: MemberOwner;
}

export interface JoinRequest {
  readonly group: string;
  readonly memberId: string;
  readonly cancelInProgress: boolean;
  readonly queue: boolean;
  /**
   * Take over the live member whose id starts with this family instead of joining anew: the process
   * that joined it stopped and this one continues its work (a job of a run taken over). The member is
   * renamed to `memberId` and keeps its seq, phase and flags; its heartbeat is refreshed and no other
   * member changes (nobody is replaced or asked to cancel). The rename fences the earlier process:
   * should it still be alive, its beats find its member gone (it stops its work) and its release
   * removes nothing. A replaced member is taken over as replaced, so its job ends as it would have.
   * Without a live member of the family this is an ordinary join, at the back (see `returning`).
   */
  readonly adopt?: string;
  /**
   * With `adopt`, when the family certainly held a place (a run handed to this process was admitted
   * by its last driver): should that place have been dropped, the join at the back is the older
   * member's it is — it replaces no pending member and asks no running one to cancel, since those
   * joined after its place (an older run must not end newer ones, whatever the group's flags).
   */
  readonly returning?: boolean;
  /**
   * The process joining: while the member waits, a `GroupClock.exited` that says this process exited
   * passes it over (see `GroupClock.exited`). Without it, only its heartbeat says it is alive.
   */
  readonly owner?: MemberOwner;
}

/** What a member learns of its place; every store call that changes a member returns it. */
export type MemberState =
  | { readonly kind: 'running'; readonly cancelRequested: boolean }
  | { readonly kind: 'pending'; readonly ahead: number }
  | { readonly kind: 'replaced'; readonly by: string }
  /** Released, or dropped after its heartbeat went stale. */
  | { readonly kind: 'gone' };

/** When a call happens, and the heartbeat age below which a member counts as dead. */
export interface GroupClock {
  readonly now: number;
  readonly staleBefore: number;
  /**
   * Whether a member's owner certainly exited (a process of this host that no longer exists). A
   * waiting member whose owner exited is passed over at once: never promoted (nothing would ever run
   * as it, and it would hold the slot until its beats went stale) nor counted ahead of another. It
   * stays listed until its beats are stale, so that a newer member still replaces it (its run is then
   * recorded replaced). A running one is left to its heartbeat: what it guards (a step its process
   * started) may outlive it. Absent: heartbeats alone decide.
   */
  readonly exited?: (owner: MemberOwner) => boolean;
}

/** Whether `member` waits for a process that certainly exited (GroupClock.exited): it is passed over. */
function waitsForNobody(member: GroupMember, clock: GroupClock | undefined): boolean {
  const { owner } = member;
  return member.phase === 'pending' && owner !== undefined && clock?.exited?.(owner) === true;
}

/**
 * Drops members whose process stopped beating, then fills a free slot with the oldest pending one
 * whose process has not exited.
 */
export function settleGroup(members: readonly GroupMember[], clock: GroupClock): GroupMember[] {
  const alive = members.filter((member) => member.heartbeatAt >= clock.staleBefore);
  if (alive.some((member) => member.phase === 'running')) return alive;
  const next = alive
    .filter((member) => member.phase === 'pending' && !waitsForNobody(member, clock))
    .reduce<GroupMember | undefined>(
      (first, member) => (first && first.seq < member.seq ? first : member),
      undefined,
    );
  if (next === undefined) return alive;
  return alive.map((member) => (member === next ? { ...member, phase: 'running' } : member));
}

export function joinGroup(
  members: readonly GroupMember[],
  request: JoinRequest,
  clock: GroupClock,
): GroupMember[] {
  const adopted =
    request.adopt === undefined ? undefined : adoptMember(members, request, request.adopt, clock);
  if (adopted !== undefined) return adopted;
  const alive = members.filter(
    (member) => member.heartbeatAt >= clock.staleBefore && member.memberId !== request.memberId,
  );
  // Coming back for work whose place was dropped, it is no newer than those members.
  const newer = request.returning !== true;
  const changed = alive.map((member): GroupMember => {
    if (member.phase === 'running' && request.cancelInProgress && newer)
      return { ...member, cancelRequested: true };
    if (member.phase === 'pending' && !request.queue && newer)
      return { ...member, phase: 'replaced', replacedBy: request.memberId };
    return member;
  });
  const seq = changed.reduce((max, member) => Math.max(max, member.seq), 0) + 1;
  changed.push({
    memberId: request.memberId,
    group: request.group,
    seq,
    phase: 'pending',
    cancelRequested: false,
    joinedAt: clock.now,
    heartbeatAt: clock.now,
    ...(request.owner === undefined ? {} : { owner: request.owner }),
  });
  return settleGroup(changed, clock);
}

/** The group with its live member of `family` renamed to the request's id (see JoinRequest.adopt). */
function adoptMember(
  members: readonly GroupMember[],
  request: JoinRequest,
  family: string,
  clock: GroupClock,
): GroupMember[] | undefined {
  const held = members.find(
    (member) => member.memberId.startsWith(family) && member.heartbeatAt >= clock.staleBefore,
  );
  if (held === undefined) return undefined;
  const renamed = members.map((member) => {
    if (member !== held) return member;
    // Its owner is the process adopting it from now on.
    const { owner: _, ...rest } = member;
    const owner = request.owner === undefined ? {} : { owner: request.owner };
    return { ...rest, memberId: request.memberId, heartbeatAt: clock.now, ...owner };
  });
  return settleGroup(renamed, clock);
}

/** The member shows it is alive; the group is settled at the same time (a dead holder frees the slot). */
export function beat(members: readonly GroupMember[], memberId: string, clock: GroupClock): GroupMember[] {
  const refreshed = members.map((member) =>
    member.memberId === memberId ? { ...member, heartbeatAt: clock.now } : member,
  );
  return settleGroup(refreshed, clock);
}

export function leaveGroup(
  members: readonly GroupMember[],
  memberId: string,
  clock: GroupClock,
): GroupMember[] {
  return settleGroup(
    members.filter((member) => member.memberId !== memberId),
    clock,
  );
}

/** `memberId`'s state; with `clock`, members ahead of it that wait for an exited process are not counted. */
export function stateOf(members: readonly GroupMember[], memberId: string, clock?: GroupClock): MemberState {
  const member = members.find((candidate) => candidate.memberId === memberId);
  if (member === undefined) return { kind: 'gone' };
  switch (member.phase) {
    case 'running':
      return { kind: 'running', cancelRequested: member.cancelRequested };
    case 'replaced':
      return { kind: 'replaced', by: member.replacedBy ?? '' };
    case 'pending': {
      const ahead = members.filter(
        (other) =>
          other.phase === 'running' ||
          (other.phase === 'pending' && other.seq < member.seq && !waitsForNobody(other, clock)),
      ).length;
      return { kind: 'pending', ahead };
    }
  }
}
