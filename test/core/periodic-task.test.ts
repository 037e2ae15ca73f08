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

  it('resolves once a run that started after the ask has ended, not the one under way; or at stop', async () => {
    const finishes: (() => void)[] = [];
    const task = new PeriodicTask(
      () => new Promise<void>((resolve) => finishes.push(resolve)),
      3_600_000,
      (error) => {
        throw error;
      },
    );
    task.start();
    let first = false;
    void task.runSoon().then(() => (first = true));
    let second = false;
    void task.runSoon().then(() => (second = true));
    finishes.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect([first, second]).toEqual([true, false]);
    finishes.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(second).toBe(true);
    let atStop = false;
    void task.runSoon().then(() => (atStop = true));
    const stopped = task.stop();
    finishes.shift()?.();
    await stopped;
    await new Promise((resolve) => setImmediate(resolve));
    expect(atStop).toBe(true);
    await expect(task.runSoon()).resolves.toBeUndefined();
  });
});
