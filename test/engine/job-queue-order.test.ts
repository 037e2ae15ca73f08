import { describe, expect, it } from 'vitest';
import type { Priority } from '../../src/core/priority.js';
import { JobQueue } from '../../src/engine/job-queue.js';
import { FakeClock } from './fake-clock.js';

// The queue's order against a reference: every queued item's (key, arrival) computed here from the
// definition in core/priority.ts, sorted, under random interleavings of every operation the
// dispatcher uses. Most pushes arrive in order (one priority, time moving forward), as in a real
// queue, so both of a group's lanes (the sorted run and the heap) are exercised and mixed.

interface Item {
  readonly id: string;
  readonly priority: Priority;
  readonly notBefore?: number;
  readonly group: string;
}

interface Placed {
  readonly item: Item;
  readonly key: number;
  readonly seq: number;
  readonly notBefore: number;
}

const levels: Priority[] = ['critical', 'high', 'normal', 'low', 'background'];
const agingIntervalMs = 1000;

/** A small deterministic generator, so a failure replays. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

class ReferenceQueue {
  readonly queued = new Map<string, Placed>();
  /** Where taken items were, for pushFront. */
  readonly places = new Map<Item, Placed>();
  private seq = 0;

  constructor(private readonly clock: FakeClock) {}

  push(item: Item): void {
    const now = this.clock.now();
    const start = Math.max(now, item.notBefore ?? now);
    const placed = {
      item,
      key: start + levels.indexOf(item.priority) * agingIntervalMs,
      seq: this.seq++,
      notBefore: item.notBefore ?? now,
    };
    this.queued.set(item.id, placed);
    this.places.set(item, placed);
  }

  pushFront(item: Item): void {
    const place = this.places.get(item);
    if (place === undefined) throw new Error('the reference puts back only items it placed');
    this.queued.set(item.id, place);
  }

  /** The ready items in queue order. */
  order(): Item[] {
    const now = this.clock.now();
    return [...this.queued.values()]
      .filter((placed) => placed.notBefore <= now)
      .sort((a, b) => a.key - b.key || a.seq - b.seq)
      .map((placed) => placed.item);
  }

  /**
   * What a walk yields when it takes up to `limit` items of the `free` groups and leaves every other
   * group at its first item (a dispatch with runners free for some label sets only).
   */
  walk(free: ReadonlySet<string>, limit: number): { yielded: Item[]; taken: Item[] } {
    const yielded: Item[] = [];
    const taken: Item[] = [];
    const left = new Set<string>();
    for (const item of this.order()) {
      if (taken.length === limit) break;
      if (left.has(item.group)) continue;
      yielded.push(item);
      if (free.has(item.group)) taken.push(item);
      else left.add(item.group);
    }
    return { yielded, taken };
  }
}

function scenario(seed: number, steps: number): void {
  const next = random(seed);
  const clock = new FakeClock();
  const queue = new JobQueue<Item>({
    agingIntervalMs,
    now: () => clock.now(),
    groupOf: (item) => item.group,
  });
  const reference = new ReferenceQueue(clock);
  const groups = ['a', 'b', 'c'];
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)] as T;
  const takenOut: Item[] = [];
  let ids = 0;
  for (let step = 0; step < steps; step++) {
    const roll = next();
    if (roll < 0.4) {
      // Mostly one priority in time order; sometimes another priority, or a delay.
      const priority = next() < 0.8 ? 'normal' : pick(levels);
      const delayed = next() < 0.1;
      const known = [...reference.queued.values()];
      // Now and then a push replaces a queued item with the same id.
      const id = next() < 0.05 && known.length > 0 ? pick(known).item.id : `j${ids++}`;
      const item: Item = {
        id,
        priority,
        group: pick(groups),
        ...(delayed ? { notBefore: clock.now() + Math.floor(next() * 3 * agingIntervalMs) } : {}),
      };
      queue.push(item);
      reference.push(item);
    } else if (roll < 0.65) {
      const free = new Set(groups.filter(() => next() < 0.7));
      const limit = 1 + Math.floor(next() * 8);
      const expected = reference.walk(free, limit);
      const yielded: Item[] = [];
      let taken = 0;
      for (const item of queue.entries((passed) => !free.has(passed.group))) {
        if (taken === limit) break;
        yielded.push(item);
        if (!free.has(item.group)) continue;
        queue.remove(item.id);
        reference.queued.delete(item.id);
        takenOut.push(item);
        taken++;
      }
      expect(yielded.map((item) => item.id)).toEqual(expected.yielded.map((item) => item.id));
    } else if (roll < 0.75 && takenOut.length > 0) {
      // A runner declined, or its offer lapsed: the item gets its turn back.
      const item = takenOut.splice(Math.floor(next() * takenOut.length), 1)[0] as Item;
      if (reference.queued.has(item.id)) continue;
      queue.pushFront(item);
      reference.pushFront(item);
    } else if (roll < 0.85 && reference.queued.size > 0) {
      const victim = pick([...reference.queued.keys()]);
      expect(queue.remove(victim)).toBe(true);
      expect(queue.remove(victim)).toBe(false);
      reference.queued.delete(victim);
    } else {
      // Time passes: mostly a little, sometimes enough to age waiting items past newer ones.
      clock.advance(next() < 0.9 ? Math.floor(next() * 20) : Math.floor(next() * 2 * agingIntervalMs));
    }
    expect(queue.size).toBe(reference.queued.size);
    if (step % 50 === 0) {
      expect([...queue.entries()].map((item) => item.id)).toEqual(reference.order().map((item) => item.id));
      expect(queue.groupCount).toBe(new Set([...reference.queued.values()].map((p) => p.item.group)).size);
    }
  }
  clock.advance(10 * agingIntervalMs);
  expect([...queue.entries()].map((item) => item.id)).toEqual(reference.order().map((item) => item.id));
}

describe('JobQueue order against a reference sort', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`matches it under random pushes, walks that take and pass over, pushFront, removes and aging (seed ${seed})`, () => {
      scenario(seed, 3_000);
    });
  }
});
