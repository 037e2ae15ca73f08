import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AutoStop } from '../../src/cli/runner-auto-stop.js';

/** The reason `stop` was asked for, or undefined while it has not been (after pending microtasks). */
async function requested(stop: AutoStop): Promise<string | undefined> {
  return Promise.race([stop.requested, Promise.resolve(undefined)]);
}

describe('AutoStop', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('asks an ephemeral runner to stop as its first job starts, not before', async () => {
    const stop = new AutoStop({ ephemeral: true, idleTimeoutMs: undefined });
    stop.start();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(await requested(stop)).toBeUndefined();
    stop.running(1);
    expect(await requested(stop)).toBe('ran its one job (--ephemeral); it takes no other');
  });

  it('counts idle time from the start and from the end of the last running job, never while one runs', async () => {
    const stop = new AutoStop({ ephemeral: false, idleTimeoutMs: 1_000 });
    stop.start();
    await vi.advanceTimersByTimeAsync(900);
    stop.running(1);
    stop.running(2);
    await vi.advanceTimersByTimeAsync(5_000);
    stop.running(1);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(await requested(stop)).toBeUndefined();
    stop.running(0);
    await vi.advanceTimersByTimeAsync(999);
    expect(await requested(stop)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(await requested(stop)).toBe('no job ran for 1s (--idle-timeout)');
  });

  it('asks nothing once closed (the runner is stopping for another reason), and without settings', async () => {
    const closed = new AutoStop({ ephemeral: true, idleTimeoutMs: 1_000 });
    closed.start();
    closed.close();
    closed.running(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await requested(closed)).toBeUndefined();
    const never = new AutoStop({ ephemeral: false, idleTimeoutMs: undefined });
    never.start();
    never.running(1);
    never.running(0);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(await requested(never)).toBeUndefined();
    expect(vi.getTimerCount()).toBe(0);
  });
});
