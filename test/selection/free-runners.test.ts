import { describe, expect, it } from 'vitest';
import { FreeRunnerIndex } from '../../src/selection/free-runners.js';

interface Runner {
  readonly name: string;
  labels: ReadonlySet<string>;
}

const runner = (name: string, ...labels: string[]): Runner => ({ name, labels: new Set(labels) });

describe('FreeRunnerIndex', () => {
  it('finds a runner with every required label, in the order they became free, skipping the excluded', () => {
    const index = new FreeRunnerIndex<Runner>();
    const a = runner('a', 'linux');
    const b = runner('b', 'linux', 'gpu');
    const c = runner('c', 'linux', 'gpu');
    for (const r of [a, b, c]) index.add(r);
    index.add(a);
    expect(index.size).toBe(3);
    expect(index.find(['linux'])?.name).toBe('a');
    expect(index.find([])?.name).toBe('a');
    expect(index.find(['gpu', 'linux'])?.name).toBe('b');
    expect(index.find(['gpu'], (r) => r === b)?.name).toBe('c');
    expect(index.find(['arm'])).toBeUndefined();
    // A runner that fills up and frees again goes to the back.
    index.delete(a);
    index.delete(a);
    expect(index.has(a)).toBe(false);
    expect(index.find(['linux'])?.name).toBe('b');
    index.add(a);
    expect(index.has(a)).toBe(true);
    expect(index.find(['linux'])?.name).toBe('b');
    index.delete(b);
    index.delete(c);
    expect(index.find(['gpu'])).toBeUndefined();
    expect(index.find(['linux'])?.name).toBe('a');
  });

  it('indexes a runner under its new labels after delete, change, add', () => {
    const index = new FreeRunnerIndex<Runner>();
    const a = runner('a', 'linux');
    index.add(a);
    index.delete(a);
    a.labels = new Set(['arm']);
    index.add(a);
    expect(index.find(['linux'])).toBeUndefined();
    expect(index.find(['arm'])?.name).toBe('a');
    expect(index.size).toBe(1);
  });

  it('stays right while runners with labels of their own come and go (empty label lists are swept)', () => {
    const index = new FreeRunnerIndex<Runner>();
    const runners = Array.from({ length: 500 }, (_, i) => runner(`r${i}`, 'linux', `host-${i}`));
    for (const r of runners) index.add(r);
    for (let round = 0; round < 3; round++) {
      for (const r of runners) index.delete(r);
      expect(index.size).toBe(0);
      expect(index.find(['linux'])).toBeUndefined();
      expect(index.find(['host-7'])).toBeUndefined();
      for (const r of runners.slice(250)) index.add(r);
      expect(index.find(['host-7'])).toBeUndefined();
      expect(index.find(['host-300', 'linux'])?.name).toBe('r300');
      expect(index.find(['linux'])?.name).toBe('r250');
      for (const r of runners.slice(0, 250)) index.add(r);
      expect(index.find(['host-7'])?.name).toBe('r7');
      expect(index.size).toBe(500);
    }
  });
});
