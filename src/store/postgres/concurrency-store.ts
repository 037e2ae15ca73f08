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
import { type GroupWatch, groupChanged } from '../group-watchers.js';
import { millis } from './columns.js';
import type { PostgresDatabase, Query, Statement } from './database.js';
import { toStoreError } from './errors.js';
import { groupChannelSql, groupKey, type NotificationListener } from './notification-listener.js';

interface MemberRow {
  member_id: string;
  group_key: string;
  seq: string;
  phase: MemberPhase;
  cancel_requested: boolean;
  replaced_by: string | null;
  joined_at: string;
  heartbeat_at: string;
  owner_host: string | null;
  owner_pid: number | null;
}

const columns =
  'member_id, group_key, seq, phase, cancel_requested, replaced_by, joined_at, heartbeat_at, owner_host, owner_pid';

const statements = {
  // Transaction-scoped: released by the COMMIT (or ROLLBACK) of the write that took it.
  lock: {
    name: 'vk_lock_concurrency_group',
    text: `SELECT pg_advisory_xact_lock(hashtextextended('valkyrie.concurrency:' || $1, 0))`,
  },
  groupOf: {
    name: 'vk_concurrency_group_of',
    text: 'SELECT group_key FROM concurrency_members WHERE member_id = $1',
  },
  prefixed: {
    name: 'vk_concurrency_prefixed',
    text: 'SELECT member_id FROM concurrency_members WHERE left(member_id, length($1::text)) = $1::text',
  },
  ofGroup: {
    name: 'vk_concurrency_members',
    text: `SELECT ${columns} FROM concurrency_members WHERE group_key = $1 ORDER BY seq`,
  },
  deleteGroup: {
    name: 'vk_concurrency_delete_group',
    text: 'DELETE FROM concurrency_members WHERE group_key = $1',
  },
  insert: {
    name: 'vk_concurrency_insert',
    text: `INSERT INTO concurrency_members (${columns})
           SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::boolean[],
                                $6::text[], $7::bigint[], $8::bigint[], $9::text[], $10::integer[])`,
  },
  // Delivered on COMMIT, to every listener on the schema's group channel, this process's included.
  notify: { name: 'vk_concurrency_notify', text: `SELECT pg_notify(${groupChannelSql}, $1)` },
} satisfies Record<string, Statement>;

/**
 * ConcurrencyStore on the shared pool. Each change is one transaction that first takes an advisory
 * lock on the group's name, so replicas and CLI processes change a group one at a time. A member's
 * group is looked up before the lock and again under it (a member never changes group, but its row
 * may have been dropped in between). A change that any member would notice notifies the group's
 * watchers in every process (see NotificationListener); beats that change nothing stay silent.
 */
export class PostgresConcurrencyStore implements ConcurrencyStore {
  readonly #db: PostgresDatabase;
  readonly #listener: NotificationListener;

  /** The bundle owns `listener` and closes it. */
  constructor(db: PostgresDatabase, listener: NotificationListener) {
    this.#db = db;
    this.#listener = listener;
  }

  join(request: JoinRequest, clock: GroupClock): Promise<MemberState> {
    const group = groupKeyOf(request.group);
    return this.#db.transaction(`join concurrency group ${request.group}`, async (query) => {
      await query(statements.lock, [group]);
      const before = await load(query, group);
      const members = joinGroup(before, request, clock);
      await store(query, group, before, members);
      return stateOf(members, request.memberId, clock);
    });
  }

  heartbeat(memberId: string, clock: GroupClock): Promise<MemberState> {
    return this.#db.transaction('keep a place in a concurrency group', async (query) => {
      const group = await lockGroupOf(query, memberId);
      if (group === undefined) return { kind: 'gone' } as const;
      const before = await load(query, group);
      const members = beat(before, memberId, clock);
      await store(query, group, before, members);
      return stateOf(members, memberId, clock);
    });
  }

  release(memberId: string, clock: GroupClock): Promise<void> {
    return this.#db.transaction('leave a concurrency group', async (query) => {
      const group = await lockGroupOf(query, memberId);
      if (group === undefined) return;
      const before = await load(query, group);
      await store(query, group, before, leaveGroup(before, memberId, clock));
    });
  }

  async releasePrefixed(prefix: string, clock: GroupClock): Promise<number> {
    const ids = await this.#db.read(`find concurrency members ${prefix}…`, async (query) => {
      const { rows } = await query<{ member_id: string }>(statements.prefixed, [prefix]);
      return rows.map((row) => row.member_id);
    });
    for (const id of ids) await this.release(id, clock);
    return ids.length;
  }

  async watch(group: string): Promise<GroupWatch> {
    const watch = this.#listener.groups.watch(groupKey(groupKeyOf(group)));
    try {
      await this.#listener.listening();
    } catch (error) {
      watch.close();
      throw toStoreError(`listen for changes to concurrency group ${group}`, error);
    }
    return watch;
  }

  list(group: string): Promise<GroupMember[]> {
    return this.#db.read(`list concurrency group ${group}`, (query) => load(query, groupKeyOf(group)));
  }
}

async function lockGroupOf(query: Query, memberId: string): Promise<string | undefined> {
  const before = await query<{ group_key: string }>(statements.groupOf, [memberId]);
  const group = before.rows[0]?.group_key;
  if (group === undefined) return undefined;
  await query(statements.lock, [group]);
  const after = await query<{ group_key: string }>(statements.groupOf, [memberId]);
  return after.rows[0]?.group_key;
}

async function load(query: Query, group: string): Promise<GroupMember[]> {
  const { rows } = await query<MemberRow>(statements.ofGroup, [group]);
  return rows.map(toMember);
}

/** `group` is the key the members were loaded under: a newcomer's name as written is not stored. */
async function store(
  query: Query,
  group: string,
  before: readonly GroupMember[],
  members: readonly GroupMember[],
): Promise<void> {
  if (groupChanged(before, members)) await query(statements.notify, [groupKey(group)]);
  await query(statements.deleteGroup, [group]);
  if (members.length === 0) return;
  await query(statements.insert, [
    members.map((m) => m.memberId),
    members.map(() => group),
    members.map((m) => m.seq),
    members.map((m) => m.phase),
    members.map((m) => m.cancelRequested),
    members.map((m) => m.replacedBy ?? null),
    members.map((m) => m.joinedAt),
    members.map((m) => m.heartbeatAt),
    members.map((m) => m.owner?.host ?? null),
    members.map((m) => m.owner?.pid ?? null),
  ]);
}

function toMember(row: MemberRow): GroupMember {
  const member: GroupMember = {
    memberId: row.member_id,
    group: row.group_key,
    seq: Number(row.seq),
    phase: row.phase,
    cancelRequested: row.cancel_requested,
    joinedAt: millis(row.joined_at),
    heartbeatAt: millis(row.heartbeat_at),
  };
  const replaced = row.replaced_by === null ? member : { ...member, replacedBy: row.replaced_by };
  const { owner_host: host, owner_pid: pid } = row;
  return host === null || pid === null ? replaced : { ...replaced, owner: { host, pid } };
}
