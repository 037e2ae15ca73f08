import { describe, expect, it } from 'vitest';
import { type GroupMember, type JoinRequest, joinGroup, stateOf } from '../../src/core/concurrency-group.js';
import { at, request, staleAfterMs } from './group-requests.js';

/** Joins each id in turn, one millisecond apart. */
function joined(ids: readonly string[], overrides: Partial<JoinRequest> = {}): GroupMember[] {
  return ids.reduce<GroupMember[]>(
    (members, id, i) => joinGroup(members, request(id, overrides), at(i + 1)),
    [],
  );
}

describe('joinGroup with adopt: a process continuing a dead one’s work keeps its member', () => {
  it('keeps a live running member’s seq and phase, refreshes its heartbeat, and changes no one else', () => {
    const before = joined(['a', 'b'], { queue: true });
    const after = joinGroup(before, request('a', { adopt: true, cancelInProgress: true }), at(5_000));
    expect(after).toEqual([{ ...before[0], heartbeatAt: 5_000 }, before[1]]);
    expect(stateOf(after, 'a')).toEqual({ kind: 'running', cancelRequested: false });
  });

  it('keeps a live pending member’s place without replacing the one waiting behind it', () => {
    const before = joined(['a', 'b', 'c'], { queue: true });
    const after = joinGroup(before, request('b', { adopt: true }), at(5_000));
    expect(after.map((m) => [m.memberId, m.seq, m.phase])).toEqual([
      ['a', 1, 'running'],
      ['b', 2, 'pending'],
      ['c', 3, 'pending'],
    ]);
    expect(stateOf(after, 'b')).toEqual({ kind: 'pending', ahead: 1 });
    expect(after.find((m) => m.memberId === 'b')?.heartbeatAt).toBe(5_000);
  });

  it('joins at the back, as a plain join does, when the member is gone', () => {
    const before = joined(['a', 'b'], { queue: true });
    const adopted = joinGroup(before, request('x', { adopt: true, queue: true }), at(5));
    expect(adopted).toEqual(joinGroup(before, request('x', { queue: true }), at(5)));
    expect(stateOf(adopted, 'x')).toEqual({ kind: 'pending', ahead: 2 });
  });

  it('joins anew when the member went stale: the slot lapsed and the next member took it', () => {
    const before = joined(['a', 'b'], { queue: true });
    const later = at(1 + staleAfterMs + 1);
    const after = joinGroup(
      before.map((m) => (m.memberId === 'b' ? { ...m, heartbeatAt: later.now } : m)),
      request('a', { adopt: true, queue: true }),
      later,
    );
    expect(after.map((m) => [m.memberId, m.seq, m.phase])).toEqual([
      ['b', 2, 'running'],
      ['a', 3, 'pending'],
    ]);
  });

  it('joins anew when the member was replaced: a replaced place is not revived', () => {
    const before = joined(['a', 'b', 'c']);
    expect(stateOf(before, 'b')).toEqual({ kind: 'replaced', by: 'c' });
    const after = joinGroup(before, request('b', { adopt: true }), at(10));
    expect(after.map((m) => [m.memberId, m.phase])).toEqual([
      ['a', 'running'],
      ['c', 'replaced'],
      ['b', 'pending'],
    ]);
  });
});
