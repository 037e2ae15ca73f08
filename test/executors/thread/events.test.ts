import { describe, expect, it } from 'vitest';
import { type PoolEvent, PoolEventListeners } from '../../../src/executors/thread/events.js';

describe('PoolEventListeners', () => {
  it('builds no task events for pool-level listeners, and gives them the pool-level ones', () => {
    const listeners = new PoolEventListeners();
    const heard: PoolEvent[] = [];
    const remove = listeners.addPoolLevel((event) => heard.push(event));
    // `active` is what the pool checks before it builds a task's event.
    expect(listeners.active).toBe(false);
    listeners.emit({ type: 'task.started', taskId: 1, workerId: 1 });
    const scaled: PoolEvent = { type: 'pool.scaled', threads: 2, previous: 1, reason: 'demand' };
    listeners.emitPoolLevel(scaled);
    expect(heard).toEqual([scaled]);

    const everything: PoolEvent[] = [];
    listeners.add((event) => everything.push(event));
    expect(listeners.active).toBe(true);
    listeners.emit({ type: 'task.started', taskId: 2, workerId: 1 });
    listeners.emitPoolLevel(scaled);
    expect(everything.map((event) => event.type)).toEqual(['task.started', 'pool.scaled']);
    expect(heard).toEqual([scaled, scaled]);

    remove();
    listeners.emitPoolLevel(scaled);
    expect(heard).toHaveLength(2);
  });
});
