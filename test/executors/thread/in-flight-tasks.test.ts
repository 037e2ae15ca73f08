import { describe, expect, it } from 'vitest';
import { InFlightTasks } from '../../../src/executors/thread/in-flight-tasks.js';

/** A small deterministic generator, so a failure replays. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('InFlightTasks', () => {
  it('answers as a Map does under rounds of strided ids added and taken in any order', () => {
    const next = random(11);
    const table = new InFlightTasks<{ id: number }>();
    const model = new Map<number, { id: number }>();
    let id = 1;
    for (let round = 0; round < 300; round++) {
      // A batch of ids strided as one of three workers sees them, then most of them taken back,
      // mostly oldest first; a few linger for many rounds, as a long task does.
      const batch = 1 + Math.floor(next() * 600);
      for (let i = 0; i < batch; i++, id += 3) {
        const task = { id };
        table.set(id, task);
        model.set(id, task);
      }
      for (const key of [...model.keys()]) {
        if (next() < 0.9) {
          expect(table.take(key)).toBe(model.get(key));
          model.delete(key);
        }
      }
      expect(table.take(id + 1)).toBeUndefined();
      expect(table.size).toBe(model.size);
      for (const [key, task] of model) {
        expect(table.get(key)).toBe(task);
        expect(table.has(key)).toBe(true);
      }
      expect(table.values()).toEqual([...model.values()]);
    }
    table.clear();
    expect(table.size).toBe(0);
    expect(table.values()).toEqual([]);
  });
});
