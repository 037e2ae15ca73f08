import { describe, expect, it } from 'vitest';
import { ReadyQueue } from '../../src/engine/ready-queue.js';

interface Entry {
  index: number;
  readonly key: number;
  readonly seq: number;
}

const comesFirst = (a: Entry, b: Entry): boolean => a.key < b.key || (a.key === b.key && a.seq < b.seq);

/** A small deterministic generator, so a failure replays. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('ReadyQueue', () => {
  it('pops in (key, seq) order under a random mix of in-order and out-of-order pushes, pops and removes', () => {
    const next = random(7);
    const queue = new ReadyQueue<Entry>(comesFirst);
    const model: Entry[] = [];
    let seq = 0;
    let clock = 0;
    for (let step = 0; step < 10_000; step++) {
      const roll = next();
      if (roll < 0.5) {
        // Mostly increasing keys, sometimes an earlier one (a higher priority or a retry).
        clock += next() < 0.9 ? 1 : 0;
        const key = next() < 0.8 ? clock : clock - Math.floor(next() * 50);
        const entry = { index: -1, key, seq: seq++ };
        queue.push(entry);
        model.push(entry);
      } else if (roll < 0.7) {
        model.sort((a, b) => (comesFirst(a, b) ? -1 : 1));
        expect(queue.pop()).toBe(model.shift());
      } else if (roll < 0.85) {
        // The engine's JobQueue takes its head this way: a look, then a remove.
        model.sort((a, b) => (comesFirst(a, b) ? -1 : 1));
        const head = queue.peek();
        expect(head).toBe(model[0]);
        if (head !== undefined) expect(queue.remove(head)).toBe(true);
        model.shift();
      } else if (model.length > 0) {
        const victim = model.splice(Math.floor(next() * model.length), 1)[0] as Entry;
        expect(queue.remove(victim)).toBe(true);
        expect(queue.remove(victim)).toBe(false);
      }
      expect(queue.size).toBe(model.length);
    }
    model.sort((a, b) => (comesFirst(a, b) ? -1 : 1));
    const rest: Entry[] = [];
    for (let entry = queue.pop(); entry !== undefined; entry = queue.pop()) rest.push(entry);
    expect(rest).toEqual(model);
  });

  it('keeps a run that never empties compact', () => {
    const queue = new ReadyQueue<Entry>(comesFirst);
    let seq = 0;
    for (let i = 0; i < 100; i++) queue.push({ index: -1, key: seq, seq: seq++ });
    for (let i = 0; i < 20_000; i++) {
      queue.push({ index: -1, key: seq, seq: seq++ });
      if (queue.pop()?.seq !== i) throw new Error(`pop ${i} out of order`);
    }
    expect(queue.size).toBe(100);
    expect(Reflect.get(queue, 'run').length).toBeLessThan(3_000);
  });

  it('keeps a run compact that is drained by removing its head, as JobQueue takes items', () => {
    const queue = new ReadyQueue<Entry>(comesFirst);
    const waiting: Entry[] = [];
    let seq = 0;
    for (let i = 0; i < 100; i++) {
      const entry = { index: -1, key: seq, seq: seq++ };
      queue.push(entry);
      waiting.push(entry);
    }
    for (let i = 0; i < 20_000; i++) {
      const entry = { index: -1, key: seq, seq: seq++ };
      queue.push(entry);
      waiting.push(entry);
      const head = waiting.shift() as Entry;
      expect(queue.remove(head)).toBe(true);
    }
    expect(queue.size).toBe(100);
    expect(queue.peek()).toBe(waiting[0]);
    expect(Reflect.get(queue, 'run').length).toBeLessThan(3_000);
  });
});
