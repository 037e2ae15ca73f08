import type Database from 'better-sqlite3';
import {
  beat,
  type GroupClock,
  type GroupMember,
  groupKeyOf,
  type JoinRequest,
  joinGroup,
  leaveGroup,
  type MemberPhase,
  type MemberState,
  stateOf,
} from '../../core/concurrency-group.js';
import type { ConcurrencyStore } from '../concurrency.js';
import { type GroupWatch, GroupWatchers, groupChanged } from '../group-watchers.js';
import type { GroupCommit } from './group-commit.js';

interface MemberRow {
  member_id: string;
  group_key: string;
  seq: number;
  phase: MemberPhase;
  cancel_requested: number;
  replaced_by: string | null;
  joined_at: number;
  heartbeat_at: number;
  owner_host: string | null;
  owner_pid: number | null;
}

const columns =
  'member_id, group_key, seq, phase, cancel_requested, replaced_by, joined_at, heartbeat_at, owner_host, owner_pid';

/**
 * ConcurrencyStore on the shared connection. Every change runs inside the group commit's IMMEDIATE
 * transaction, which holds SQLite's write lock from its first statement: the read of the group and
 * its rewrite cannot interleave with another process's. Watchers in this process are woken once a
 * change has committed; SQLite has no channel to other processes.
 */
export class SqliteConcurrencyStore implements ConcurrencyStore {
  readonly #ofGroup;
  readonly #groupOf;
  readonly #prefixed;
  readonly #deleteGroup;
  readonly #insert;
  readonly #watchers = new GroupWatchers();

  constructor(
    db: Database.Database,
    private readonly commits: GroupCommit,
  ) {
    this.#ofGroup = db.prepare<[string], MemberRow>(
      `SELECT ${columns} FROM concurrency_members WHERE group_key = ? ORDER BY seq`,
    );
    this.#groupOf = db.prepare<[string], { group_key: string }>(
      'SELECT group_key FROM concurrency_members WHERE member_id = ?',
    );
    this.#prefixed = db.prepare<[number, string], { member_id: string }>(
      'SELECT member_id FROM concurrency_members WHERE substr(member_id, 1, ?) = ?',
    );
    this.#deleteGroup = db.prepare<[string]>('DELETE FROM concurrency_members WHERE group_key = ?');
    this.#insert = db.prepare<
      [string, string, number, string, number, string | null, number, number, string | null, number | null]
    >(`INSERT INTO concurrency_members (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  }

  join(request: JoinRequest, clock: GroupClock): Promise<MemberState> {
    const group = groupKeyOf(request.group);
    return this.#change(`join concurrency group ${request.group}`, () => {
      const before = this.#load(group);
      const members = joinGroup(before, request, clock);
      return { group, before, members, result: stateOf(members, request.memberId, clock) };
    });
  }

  heartbeat(memberId: string, clock: GroupClock): Promise<MemberState> {
    return this.#change('keep a place in a concurrency group', () => {
      const group = this.#groupOf.get(memberId)?.group_key;
      if (group === undefined) return { result: { kind: 'gone' } as const };
      const before = this.#load(group);
      const members = beat(before, memberId, clock);
      return { group, before, members, result: stateOf(members, memberId, clock) };
    });
  }

  release(memberId: string, clock: GroupClock): Promise<void> {
    return this.#change('leave a concurrency group', () => {
      const group = this.#groupOf.get(memberId)?.group_key;
      if (group === undefined) return { result: undefined };
      const before = this.#load(group);
      return { group, before, members: leaveGroup(before, memberId, clock), result: undefined };
    });
  }

  async releasePrefixed(prefix: string, clock: GroupClock): Promise<number> {
    const ids = await this.commits.read(`find concurrency members ${prefix}…`, () =>
      this.#prefixed.all(prefix.length, prefix).map((row) => row.member_id),
    );
    for (const id of ids) await this.release(id, clock);
    return ids.length;
  }

  async watch(group: string): Promise<GroupWatch> {
    return this.#watchers.watch(groupKeyOf(group));
  }

  list(group: string): Promise<GroupMember[]> {
    return this.commits.read(`list concurrency group ${group}`, () => this.#load(groupKeyOf(group)));
  }

  /** Runs `work` in one write, stores the group it returns, and wakes watchers if that changed it. */
  async #change<T>(action: string, work: () => GroupChange<T>): Promise<T> {
    let changed: string | undefined;
    const result = await this.commits.write(action, () => {
      const change = work();
      if (!('group' in change)) return change.result;
      if (groupChanged(change.before, change.members)) changed = change.group;
      this.#store(change.group, change.members);
      return change.result;
    });
    if (changed !== undefined) this.#watchers.wake(changed);
    return result;
  }

  #load(group: string): GroupMember[] {
    return this.#ofGroup.all(group).map(toMember);
  }

  /** `group` is the key the members were loaded under: a newcomer's name as written is not stored. */
  #store(group: string, members: readonly GroupMember[]): void {
    this.#deleteGroup.run(group);
    for (const m of members) {
      this.#insert.run(
        m.memberId,
        group,
        m.seq,
        m.phase,
        m.cancelRequested ? 1 : 0,
        m.replacedBy ?? null,
        m.joinedAt,
        m.heartbeatAt,
        m.owner?.host ?? null,
        m.owner?.pid ?? null,
      );
    }
  }
}

/** A group to rewrite (as it was, as it becomes), or only an answer when the member was not found. */
type GroupChange<T> =
  | { readonly result: T }
  | {
      readonly group: string;
      readonly before: readonly GroupMember[];
      readonly members: readonly GroupMember[];
      readonly result: T;
    };

function toMember(row: MemberRow): GroupMember {
  const member: GroupMember = {
    memberId: row.member_id,
    group: row.group_key,
    seq: row.seq,
    phase: row.phase,
    cancelRequested: row.cancel_requested !== 0,
    joinedAt: row.joined_at,
    heartbeatAt: row.heartbeat_at,
  };
  const replaced = row.replaced_by === null ? member : { ...member, replacedBy: row.replaced_by };
  const { owner_host: host, owner_pid: pid } = row;
  return host === null || pid === null ? replaced : { ...replaced, owner: { host, pid } };
}
