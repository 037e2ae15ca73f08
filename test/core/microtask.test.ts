import { describe, expect, it } from 'vitest';
import { microtaskScheduler } from '../../src/core/microtask.js';

describe('microtaskScheduler', () => {
  it('runs the callback once per call, after the code that scheduled it and before any timer', async () => {
    const order: string[] = [];
    const soon = microtaskScheduler(() => order.push('callback'));
    setTimeout(() => order.push('timer'), 0);
    soon();
    soon();
    order.push('sync');
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(order).toEqual(['sync', 'callback', 'callback', 'timer']);
  });

  it('surfaces an exception as an uncaught exception, as queueMicrotask does, not as a rejection', async () => {
    const soon = microtaskScheduler(() => {
      throw new Error('the callback failed');
    });
    const runnerHandlers = process.listeners('uncaughtException');
    const rejectionHandlers = process.listeners('unhandledRejection');
    process.removeAllListeners('uncaughtException');
    process.removeAllListeners('unhandledRejection');
    const uncaught: unknown[] = [];
    const rejected: unknown[] = [];
    process.on('uncaughtException', (error) => uncaught.push(error));
    process.on('unhandledRejection', (reason) => rejected.push(reason));
    try {
      soon();
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(uncaught).toMatchObject([{ message: 'the callback failed' }]);
      expect(rejected).toEqual([]);
    } finally {
      process.removeAllListeners('uncaughtException');
      process.removeAllListeners('unhandledRejection');
      for (const handler of runnerHandlers) process.on('uncaughtException', handler);
      for (const handler of rejectionHandlers) process.on('unhandledRejection', handler);
    }
  });
});
