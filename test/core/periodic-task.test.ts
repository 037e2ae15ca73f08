import { describe, expect, it } from 'vitest';
import { PeriodicTask } from '../../src/core/periodic-task.js';

describe('PeriodicTask.runSoon', () => {
  it('runs at once, out of turn; asked during a run, runs once more right after it', async () => {
    const finishes: (() => void)[] = [];
    let runs = 0;
    const task = new PeriodicTask(
      () => {
        runs++;
        return new Promise<void>((resolve) => finishes.push(resolve));
      },
      3_600_000,
      (error) => {
        throw error;
      },
    );
    task.start();
    task.runSoon();
    expect(runs).toBe(1);
    // Two asks during the run make one more run, not two.
    task.runSoon();
    task.runSoon();
    expect(runs).toBe(1);
    finishes.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(2);
    finishes.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(2);
    await task.stop();
    task.runSoon();
    expect(runs).toBe(2);
  });
});
