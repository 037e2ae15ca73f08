import { describe, expect, it } from 'vitest';
import { type Clock, DeadlineTimer } from '../../../src/executors/thread/deadline-timer.js';

/** A clock whose time moves only when the test says so. */
class FakeClock implements Clock {
  time = 0;
  private timers = new Map<number, { at: number; callback: () => void }>();
  private nextHandle = 1;

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.nextHandle++;
    this.timers.set(handle, { at: this.time + ms, callback });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pending(): number {
    return this.timers.size;
  }

  advanceTo(time: number): void {
    this.time = time;
    for (const [handle, timer] of [...this.timers]) {
      if (timer.at <= time) {
        this.timers.delete(handle);
        timer.callback();
      }
    }
  }
}

describe('DeadlineTimer', () => {
  it('keeps one timer, armed at the earliest deadline asked for', () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    const timer = new DeadlineTimer(clock, (now) => fired.push(now));
    timer.arm(300);
    timer.arm(100);
    timer.arm(200);
    expect(clock.pending).toBe(1);
    clock.advanceTo(99);
    expect(fired).toEqual([]);
    clock.advanceTo(100);
    expect(fired).toEqual([100]);
    expect(clock.pending).toBe(0);
  });

  it('can be armed again after firing, and cancelled', () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    const timer = new DeadlineTimer(clock, (now) => {
      fired.push(now);
      if (now < 50) timer.arm(50);
    });
    timer.arm(10);
    clock.advanceTo(10);
    clock.advanceTo(50);
    expect(fired).toEqual([10, 50]);
    timer.arm(80);
    timer.cancel();
    clock.advanceTo(100);
    expect(fired).toEqual([10, 50]);
    timer.arm(Number.POSITIVE_INFINITY);
    expect(clock.pending).toBe(0);
  });
});
