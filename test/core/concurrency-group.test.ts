import { describe, expect, it } from 'vitest';
import {
  type GroupMember,
  type JoinRequest,
  joinGroup,
  leaveGroup,
  settleGroup,
  stateOf,
} from '../../src/core/concurrency-group.js';
import { at, request, staleAfterMs } from './group-requests.js';

/** Joins each id in turn, one millisecond apart. */
function joined(ids: readonly string[], overrides: Partial<JoinRequest> = {}): GroupMember[] {
  return ids.reduce<GroupMember[]>(
    (members, id, i) => joinGroup(members, request(id, overrides), at(i + 1)),
    [],
  );
}

describe('joinGroup with adopt: a process continuing a stopped one’s work takes its member over', () => {
  it('renames a live running member, keeping its seq and phase, and changes no one else', () => {
    const before = joined(['a#1', 'b#1'], { queue: true });
    const after = joinGroup(before, request('a#2', { adopt: 'a#', cancelInProgress: true }), at(5_000));
    expect(after).toEqual([{ ...before[0], memberId: 'a#2', heartbeatAt: 5_000 }, before[1]]);
    expect(stateOf(after, 'a#2')).toEqual({ kind: 'running', cancelRequested: false });
    // The earlier process is fenced off: its member is gone, and its release would remove nothing.
    expect(stateOf(after, 'a#1')).toEqual({ kind: 'gone' });
    expect(leaveGroup(after, 'a#1', at(5_001))).toEqual(after);
  });

  it('keeps a live pending member’s place without replacing the one waiting behind it', () => {
    const before = joined(['a#1', 'b#1', 'c#1'], { queue: true });
    const after = joinGroup(before, request('b#2', { adopt: 'b#' }), at(5_000));
    expect(after.map((m) => [m.memberId, m.seq, m.phase])).toEqual([
      ['a#1', 1, 'running'],
      ['b#2', 2, 'pending'],
      ['c#1', 3, 'pending'],
    ]);
    expect(stateOf(after, 'b#2')).toEqual({ kind: 'pending', ahead: 1 });
    expect(after.find((m) => m.memberId === 'b#2')?.heartbeatAt).toBe(5_000);
  });

  it('takes only its own family: a group named like a prefix of another is not mistaken for it', () => {
    const before = joined(['job 1.1:a#b#1'], { queue: true });
    const after = joinGroup(before, request('job 1.1:a#2', { adopt: 'job 1.1:a#', queue: true }), at(5));
    expect(after.map((m) => [m.memberId, m.phase])).toEqual([['job 1.1:a#2', 'running']]);
    const other = joinGroup(before, request('job 1.1:ab#2', { adopt: 'job 1.1:ab#', queue: true }), at(5));
    expect(other.map((m) => [m.memberId, m.phase])).toEqual([
      ['job 1.1:a#b#1', 'running'],
      ['job 1.1:ab#2', 'pending'],
    ]);
  });

  it('joins at the back, as a plain join does, when the family has no member', () => {
    const before = joined(['a#1', 'b#1'], { queue: true });
    const adopted = joinGroup(before, request('x#2', { adopt: 'x#', queue: true }), at(5));
    expect(adopted).toEqual(joinGroup(before, request('x#2', { queue: true }), at(5)));
    expect(stateOf(adopted, 'x#2')).toEqual({ kind: 'pending', ahead: 2 });
  });

  it('joins anew when the member went stale: the slot lapsed and the next member took it', () => {
    const before = joined(['a#1', 'b#1'], { queue: true });
    const later = at(1 + staleAfterMs + 1);
    const after = joinGroup(
      before.map((m) => (m.memberId === 'b#1' ? { ...m, heartbeatAt: later.now } : m)),
      request('a#2', { adopt: 'a#', queue: true }),
      later,
    );
    expect(after.map((m) => [m.memberId, m.seq, m.phase])).toEqual([
      ['b#1', 2, 'running'],
      ['a#2', 3, 'pending'],
    ]);
  });

  it('returning after its member went stale, replaces no newer member and asks none to cancel', () => {
    // a#1 ran; b#1 and c#1 joined after it. a#1's process stopped beating it, and the one that goes on
    // with its work comes after the place was dropped: an older member must not end newer ones.
    const pending = joined(['a#1', 'b#1'], { queue: true });
    const later = at(1 + staleAfterMs + 1);
    const beaten = pending.map((m) => (m.memberId === 'b#1' ? { ...m, heartbeatAt: later.now } : m));
    const rejoin = request('a#2', { adopt: 'a#', returning: true, cancelInProgress: true });
    // b#1 not yet promoted (no beat since a#1 lapsed): it is not replaced.
    expect(joinGroup(beaten, rejoin, later).map((m) => [m.memberId, m.phase, m.cancelRequested])).toEqual([
      ['b#1', 'running', false],
      ['a#2', 'pending', false],
    ]);
    // b#1 holding the slot by now: it is not asked to cancel.
    const running = settleGroup(beaten, later);
    expect(joinGroup(running, rejoin, later).map((m) => [m.memberId, m.phase, m.cancelRequested])).toEqual([
      ['b#1', 'running', false],
      ['a#2', 'pending', false],
    ]);
    // Without `returning` (a job of a resumed run that never joined before) it joins as any newcomer.
    const { returning: _, ...fresh } = rejoin;
    expect(joinGroup(running, fresh, later).find((m) => m.memberId === 'b#1')?.cancelRequested).toBe(true);
  });

  it('takes a replaced member over as replaced: its job ends, and the newer one keeps its place', () => {
    const before = joined(['a#1', 'b#1', 'c#1']);
    expect(stateOf(before, 'b#1')).toEqual({ kind: 'replaced', by: 'c#1' });
    const after = joinGroup(before, request('b#2', { adopt: 'b#' }), at(10));
    expect(after.map((m) => [m.memberId, m.phase])).toEqual([
      ['a#1', 'running'],
      ['b#2', 'replaced'],
      ['c#1', 'pending'],
    ]);
    expect(stateOf(after, 'b#2')).toEqual({ kind: 'replaced', by: 'c#1' });
  });
});

describe('a waiting member whose owner exited', () => {
  const exited = (owner: { readonly pid: number }) => owner.pid === 2;
  const now = (ms: number) => ({ ...at(ms), exited });

  it('is passed over when the group settles: the next one is promoted, and it is not counted ahead', () => {
    const a = joinGroup([], request('a', { queue: true, owner: { host: 'h', pid: 1 } }), at(1));
    const ab = joinGroup(a, request('b', { queue: true, owner: { host: 'h', pid: 2 } }), at(2));
    const abc = joinGroup(ab, request('c', { queue: true }), at(3));
    expect(stateOf(abc, 'c')).toEqual({ kind: 'pending', ahead: 2 });
    expect(stateOf(abc, 'c', now(3))).toEqual({ kind: 'pending', ahead: 1 });
    const after = leaveGroup(abc, 'a', now(4));
    expect(after.map((m) => [m.memberId, m.phase])).toEqual([
      ['b', 'pending'],
      ['c', 'running'],
    ]);
    // Until its beats are stale, then dropped as any member.
    expect(settleGroup(after, now(2 + staleAfterMs + 1)).map((m) => m.memberId)).toEqual(['c']);
  });

  it('alone in the group, is not promoted: the slot stays free for the next to join', () => {
    const ab = joinGroup(
      joinGroup([], request('a'), at(1)),
      request('b', { owner: { host: 'h', pid: 2 } }),
      at(2),
    );
    expect(leaveGroup(ab, 'a', now(3)).map((m) => [m.memberId, m.phase])).toEqual([['b', 'pending']]);
  });

  it('is still replaced by a newer member (its run is then recorded replaced), not dropped first', () => {
    const ab = joinGroup(
      joinGroup([], request('a'), at(1)),
      request('b', { owner: { host: 'h', pid: 2 } }),
      at(2),
    );
    const abc = joinGroup(ab, request('c'), now(3));
    expect(abc.map((m) => [m.memberId, m.phase])).toEqual([
      ['a', 'running'],
      ['b', 'replaced'],
      ['c', 'pending'],
    ]);
  });

  it('adopted, takes the adopting process as its owner', () => {
    const ab = joinGroup(
      joinGroup([], request('a#1', { queue: true }), at(1)),
      request('b#1', { queue: true, owner: { host: 'h', pid: 2 } }),
      at(2),
    );
    const adopted = joinGroup(ab, request('b#2', { adopt: 'b#', owner: { host: 'h', pid: 3 } }), now(3));
    expect(adopted.map((m) => [m.memberId, m.phase, m.owner?.pid])).toEqual([
      ['a#1', 'running', undefined],
      ['b#2', 'pending', 3],
    ]);
  });
});
