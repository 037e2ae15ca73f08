import { describe, expect, it } from 'vitest';
import type { Priority } from '../../src/core/priority.js';
import { JobQueue } from '../../src/engine/job-queue.js';
import { FakeClock } from './fake-clock.js';

interface Item {
  readonly id: string;
  readonly priority: Priority;
  readonly notBefore?: number;
  readonly group?: string;
}

const minute = 60_000;

function setup(agingIntervalMs = minute) {
  const clock = new FakeClock();
  const queue = new JobQueue<Item>({
    agingIntervalMs,
    now: () => clock.now(),
    groupOf: (item) => item.group ?? '',
  });
  const ids = () => [...queue.entries()].map((item) => item.id);
  return { clock, queue, ids };
}

describe('JobQueue', () => {
  it('gives as its head the item a walk yields first, over groups and delays, or undefined when none is ready', () => {
    const { queue, ids, clock } = setup();
    expect(queue.head()).toBeUndefined();
    queue.push({ id: 'later', priority: 'critical', notBefore: clock.now() + 1_000 });
    expect(queue.head()).toBeUndefined();
    queue.push({ id: 'a1', priority: 'normal', group: 'a' });
    queue.push({ id: 'b1', priority: 'high', group: 'b' });
    queue.push({ id: 'a2', priority: 'critical', group: 'a' });
    expect(queue.head()?.id).toBe(ids()[0]);
    expect(queue.head()?.id).toBe('a2');
    queue.remove('a2');
    expect(queue.head()?.id).toBe('b1');
    clock.advance(1_000);
    expect(queue.head()?.id).toBe('later');
    expect(ids()[0]).toBe('later');
  });

  it('keeps arrival order within a priority', () => {
    const { queue, ids, clock } = setup();
    for (const id of ['a', 'b', 'c']) queue.push({ id, priority: 'normal' });
    clock.advance(10);
    queue.push({ id: 'd', priority: 'normal' });
    expect(ids()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('puts higher priorities first', () => {
    const { queue, ids } = setup();
    queue.push({ id: 'low', priority: 'low' });
    queue.push({ id: 'normal', priority: 'normal' });
    queue.push({ id: 'background', priority: 'background' });
    queue.push({ id: 'critical', priority: 'critical' });
    queue.push({ id: 'high', priority: 'high' });
    expect(ids()).toEqual(['critical', 'high', 'normal', 'low', 'background']);
  });

  it('ages a waiting job one level per interval: after 4 intervals a background job ties with a new critical one and, having arrived first, goes first', () => {
    const { queue, ids, clock } = setup();
    queue.push({ id: 'old-background', priority: 'background' });
    clock.advance(4 * minute - 1);
    queue.push({ id: 'critical-early', priority: 'critical' });
    clock.advance(1);
    queue.push({ id: 'critical-now', priority: 'critical' });
    clock.advance(1);
    queue.push({ id: 'critical-late', priority: 'critical' });
    expect(ids()).toEqual(['critical-early', 'old-background', 'critical-now', 'critical-late']);
  });

  it('uses the configured aging interval', () => {
    const { queue, ids, clock } = setup(1000);
    queue.push({ id: 'low', priority: 'low' });
    clock.advance(1001);
    queue.push({ id: 'high', priority: 'high' });
    expect(ids()).toEqual(['high', 'low']);
    clock.advance(1000);
    queue.push({ id: 'high-later', priority: 'high' });
    expect(ids()).toEqual(['high', 'low', 'high-later']);
  });

  it('gives a declined item its turn back with pushFront, ahead of later arrivals of its priority', () => {
    const { queue, ids, clock } = setup();
    queue.push({ id: 'a', priority: 'normal' });
    queue.push({ id: 'b', priority: 'normal' });
    const first = queue.entries().next().value;
    expect(first?.id).toBe('a');
    if (!first) return;
    queue.remove(first.id);
    clock.advance(5);
    queue.push({ id: 'c', priority: 'normal' });
    queue.push({ id: 'h', priority: 'high' });
    queue.pushFront(first);
    expect(ids()).toEqual(['h', 'a', 'b', 'c']);
  });

  it('puts an item it has never seen at the head with pushFront', () => {
    const { queue, ids } = setup();
    queue.push({ id: 'a', priority: 'critical' });
    queue.pushFront({ id: 'z', priority: 'background' });
    expect(ids()).toEqual(['z', 'a']);
  });

  it('lets the caller remove yielded items while iterating, and keeps the ones passed over', () => {
    const { queue, ids } = setup();
    for (const id of ['a', 'b', 'c', 'd', 'e']) queue.push({ id, priority: 'normal' });
    const taken: string[] = [];
    for (const item of queue.entries()) {
      if (item.id === 'b' || item.id === 'd') {
        queue.remove(item.id);
        taken.push(item.id);
      }
      if (item.id === 'd') break;
    }
    expect(taken).toEqual(['b', 'd']);
    expect(queue.size).toBe(3);
    expect(ids()).toEqual(['a', 'c', 'e']);
  });

  it('holds a delayed item back until its time, then ages it from then', () => {
    const { queue, ids, clock } = setup();
    const at = clock.now() + 30_000;
    queue.push({ id: 'delayed', priority: 'critical', notBefore: at });
    queue.push({ id: 'now', priority: 'low' });
    expect(ids()).toEqual(['now']);
    expect(queue.size).toBe(2);
    expect(queue.nextReadyAt()).toBe(at);
    clock.advance(29_999);
    expect(ids()).toEqual(['now']);
    clock.advance(1);
    // low, ready 30 s ago: key = t0 + 2 min; critical, ready now: key = t0 + 30 s.
    expect(ids()).toEqual(['delayed', 'now']);
    expect(queue.nextReadyAt()).toBeUndefined();
  });

  it('orders delayed items by their own time, not their arrival', () => {
    const { queue, ids, clock } = setup();
    const t0 = clock.now();
    queue.push({ id: 'later', priority: 'normal', notBefore: t0 + 2000 });
    queue.push({ id: 'sooner', priority: 'normal', notBefore: t0 + 1000 });
    expect(queue.nextReadyAt()).toBe(t0 + 1000);
    clock.advance(2000);
    expect(ids()).toEqual(['sooner', 'later']);
  });

  it('removes delayed items', () => {
    const { queue, clock } = setup();
    queue.push({ id: 'd', priority: 'normal', notBefore: clock.now() + 1000 });
    expect(queue.remove('d')).toBe(true);
    expect(queue.remove('d')).toBe(false);
    expect(queue.size).toBe(0);
    expect(queue.nextReadyAt()).toBeUndefined();
  });

  it('matches a sort by (key, arrival) on 10,000 random items, removals included', () => {
    const { queue, clock } = setup(1000);
    const priorities: Priority[] = ['critical', 'high', 'normal', 'low', 'background'];
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const expected: { id: string; key: number; seq: number }[] = [];
    for (let i = 0; i < 10_000; i++) {
      clock.advance(Math.floor(random() * 50));
      const priority = priorities[Math.floor(random() * priorities.length)] ?? 'normal';
      const id = `j${i}`;
      queue.push({ id, priority });
      expected.push({ id, key: clock.now() + priorities.indexOf(priority) * 1000, seq: i });
    }
    for (let i = 0; i < 10_000; i += 7) queue.remove(`j${i}`);
    const kept = expected
      .filter((_, i) => i % 7 !== 0)
      .sort((a, b) => a.key - b.key || a.seq - b.seq)
      .map((entry) => entry.id);
    expect([...queue.entries()].map((item) => item.id)).toEqual(kept);
    expect(queue.size).toBe(kept.length);
  });

  it('yields the items of every group in one queue order, and drops a group once it is empty', () => {
    const { queue, ids, clock } = setup();
    queue.push({ id: 'a1', priority: 'normal', group: 'a' });
    queue.push({ id: 'b1', priority: 'low', group: 'b' });
    clock.advance(1);
    queue.push({ id: 'b2', priority: 'normal', group: 'b' });
    queue.push({ id: 'c1', priority: 'critical', group: 'c' });
    queue.push({ id: 'a2', priority: 'normal', group: 'a', notBefore: clock.now() + 10 });
    expect(ids()).toEqual(['c1', 'a1', 'b2', 'b1']);
    expect(queue.groupCount).toBe(3);
    queue.remove('c1');
    expect(queue.groupCount).toBe(2);
    // A delayed item keeps its group; it joins the group's order when its time comes.
    queue.remove('a1');
    expect(queue.groupCount).toBe(2);
    clock.advance(10);
    expect(ids()).toEqual(['b2', 'a2', 'b1']);
    for (const id of ['a2', 'b1', 'b2']) queue.remove(id);
    expect(queue.groupCount).toBe(0);
    expect(queue.size).toBe(0);
  });

  it('leaves the rest of a group when the caller says so, and keeps every item it passed over', () => {
    const { queue, ids } = setup();
    for (let i = 0; i < 1000; i++) queue.push({ id: `x${i}`, priority: 'normal', group: 'x' });
    queue.push({ id: 'y0', priority: 'normal', group: 'y' });
    queue.push({ id: 'y1', priority: 'normal', group: 'y' });
    const seen: string[] = [];
    const asked: string[] = [];
    for (const item of queue.entries((passed) => {
      asked.push(passed.id);
      return passed.group === 'x';
    })) {
      seen.push(item.id);
      if (item.id === 'y1') queue.remove(item.id);
    }
    expect(seen).toEqual(['x0', 'y0', 'y1']);
    expect(asked).toEqual(['x0', 'y0']);
    expect(queue.size).toBe(1001);
    expect(ids().slice(0, 3)).toEqual(['x0', 'x1', 'x2']);
    expect(ids()).toContain('y0');
  });

  it('gives an item its turn back with pushFront in its own group, ahead of the later items of others', () => {
    const { queue, ids } = setup();
    queue.push({ id: 'a', priority: 'normal', group: 'g' });
    queue.push({ id: 'b', priority: 'normal', group: 'h' });
    const a = queue.entries().next().value;
    if (!a) throw new Error('empty');
    queue.remove(a.id);
    expect(queue.groupCount).toBe(1);
    queue.push({ id: 'c', priority: 'normal', group: 'g' });
    queue.pushFront(a);
    expect(ids()).toEqual(['a', 'b', 'c']);
  });

  it('matches a sort by (key, arrival) over 20 groups on 10,000 random items, removals included', () => {
    const { queue, clock } = setup(1000);
    const priorities: Priority[] = ['critical', 'high', 'normal', 'low', 'background'];
    let seed = 11;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const expected: { id: string; key: number; seq: number; group: string }[] = [];
    for (let i = 0; i < 10_000; i++) {
      clock.advance(Math.floor(random() * 50));
      const priority = priorities[Math.floor(random() * priorities.length)] ?? 'normal';
      const group = `g${Math.floor(random() * 20)}`;
      queue.push({ id: `j${i}`, priority, group });
      expected.push({ id: `j${i}`, key: clock.now() + priorities.indexOf(priority) * 1000, seq: i, group });
    }
    for (let i = 0; i < 10_000; i += 7) queue.remove(`j${i}`);
    const kept = expected.filter((_, i) => i % 7 !== 0).sort((a, b) => a.key - b.key || a.seq - b.seq);
    expect([...queue.entries()].map((item) => item.id)).toEqual(kept.map((entry) => entry.id));
    // Leaving every group but g3 at its first item passed over: each other group's head, once, and
    // the whole of g3, still in one order.
    const walked = [...queue.entries((passed) => passed.group !== 'g3')].map((item) => item.id);
    const heads = new Map<string, string>();
    for (const entry of kept) if (!heads.has(entry.group)) heads.set(entry.group, entry.id);
    const expectedWalk = kept.filter((entry) => entry.group === 'g3' || heads.get(entry.group) === entry.id);
    expect(walked).toEqual(expectedWalk.map((entry) => entry.id));
    expect(walked.length).toBe(19 + kept.filter((entry) => entry.group === 'g3').length);
  });
});
