import type Database from 'better-sqlite3';
import {
  beat,
  type GroupClock,
  type GroupMember,
  type JoinRequest,
  joinGroup,
  leaveGroup,
  type MemberPhase,
  type MemberState,
  stateOf,
} from '../../core/concurrency-group.js';
import type { ConcurrencyStore } from '../concurrency.js';
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
}

const columns = 'member_id, group_key, seq, phase, cancel_requested, replaced_by, joined_at, heartbeat_at';

/**
 * ConcurrencyStore on the shared connection. Every change runs inside the group commit's IMMEDIATE
 * transaction, which holds SQLite's write lock from its first statement: the read of the group and
 * its rewrite cannot interleave with another process's.
 */
export class SqliteConcurrencyStore implements ConcurrencyStore {
  readonly #ofGroup;
  readonly #groupOf;
  readonly #deleteGroup;
  readonly #insert;

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
    this.#deleteGroup = db.prepare<[string]>('DELETE FROM concurrency_members WHERE group_key = ?');
    this.#insert = db.prepare<[string, string, number, string, number, string | null, number, number]>(
      `INSERT INTO concurrency_members (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  join(request: JoinRequest, clock: GroupClock): Promise<MemberState> {
    return this.commits.write(`join concurrency group ${request.group}`, () => {
      const members = joinGroup(this.#load(request.group), request, clock);
      this.#store(request.group, members);
      return stateOf(members, request.memberId);
    });
  }

  heartbeat(memberId: string, clock: GroupClock): Promise<MemberState> {
    return this.commits.write(`heartbeat of concurrency member ${memberId}`, () => {
      const group = this.#groupOf.get(memberId)?.group_key;
      if (group === undefined) return { kind: 'gone' } as const;
      const members = beat(this.#load(group), memberId, clock);
      this.#store(group, members);
      return stateOf(members, memberId);
    });
  }

  release(memberId: string, clock: GroupClock): Promise<void> {
    return this.commits.write(`release concurrency member ${memberId}`, () => {
      const group = this.#groupOf.get(memberId)?.group_key;
      if (group === undefined) return;
      this.#store(group, leaveGroup(this.#load(group), memberId, clock));
    });
  }

  list(group: string): Promise<GroupMember[]> {
    return this.commits.read(`list concurrency group ${group}`, () => this.#load(group));
  }

  #load(group: string): GroupMember[] {
    return this.#ofGroup.all(group).map(toMember);
  }

  #store(group: string, members: readonly GroupMember[]): void {
    this.#deleteGroup.run(group);
    for (const m of members) {
      this.#insert.run(
        m.memberId,
        m.group,
        m.seq,
        m.phase,
        m.cancelRequested ? 1 : 0,
        m.replacedBy ?? null,
        m.joinedAt,
        m.heartbeatAt,
      );
    }
  }
}

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
  return row.replaced_by === null ? member : { ...member, replacedBy: row.replaced_by };
}
