import { afterEach, describe, expect, it } from 'vitest';
import { UnansweredCalls, type UnansweredEvent } from '../../src/store/postgres/unanswered-calls.js';

describe('UnansweredCalls', () => {
  let now = 0;
  let oldest: number | undefined;
  let events: UnansweredEvent[] = [];
  let calls: UnansweredCalls | undefined;
  afterEach(() => calls?.stop());

  function watch(afterMs: number): UnansweredCalls {
    now = 1_000_000;
    oldest = undefined;
    events = [];
    calls = new UnansweredCalls(
      'db:5432',
      () => oldest,
      { afterMs, report: (event) => events.push(event) },
      () => now,
    );
    return calls;
  }

  it('says nothing of calls answered within afterMs, nor while none waits', () => {
    const calls = watch(10_000);
    calls.check();
    oldest = now;
    now += 9_999;
    calls.check();
    oldest = undefined;
    now += 60_000;
    calls.check();
    expect(events).toEqual([]);
  });

  it('reports a stall once, however long it lasts, then its end, measured from when the call was made', () => {
    const calls = watch(10_000);
    const made = now;
    oldest = made;
    now = made + 10_000;
    calls.check();
    now = made + 40_000;
    calls.check();
    expect(events).toEqual([{ kind: 'waiting', server: 'db:5432', forMs: 10_000 }]);
    oldest = undefined;
    now = made + 41_500;
    calls.check();
    expect(events[1]).toEqual({ kind: 'answered', server: 'db:5432', afterMs: 41_500 });
    calls.check();
    expect(events).toHaveLength(2);
  });

  it('ends the stall when the call that stalled ended, though a newer call waits; a new stall is reported anew', () => {
    const calls = watch(1_000);
    const first = now;
    oldest = first;
    now += 1_000;
    calls.check();
    const second = now;
    oldest = second;
    calls.check();
    expect(events.map((event) => event.kind)).toEqual(['waiting', 'answered']);
    now = second + 1_000;
    calls.check();
    expect(events[2]).toEqual({ kind: 'waiting', server: 'db:5432', forMs: 1_000 });
  });
});
