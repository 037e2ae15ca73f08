import { describe, expect, it } from 'vitest';
import { defaultMaxFrameBytes, encodeFrame } from '../../src/protocol/frame.js';
import { maxJobIdLength } from '../../src/protocol/messages.js';
import {
  type Completion,
  CompletionsInDoubt,
  maxCompletionsInDoubt,
} from '../../src/runner/completions-in-doubt.js';
import { ManualClock } from '../core/manual-clock.js';

const ttlMs = 15_000;

function completion(jobId: string, fencingToken = 1): Completion {
  return { type: 'job.completed', jobId, fencingToken, outcome: { kind: 'succeeded' }, outputs: {}, at: 1 };
}

const ids = (completions: readonly Completion[]) => completions.map((c) => c.jobId);

describe('CompletionsInDoubt', () => {
  it('keeps a completion made while no session was up however long the outage lasts', async () => {
    const clock = new ManualClock();
    const held = new CompletionsInDoubt(clock);
    held.lost();
    held.add(completion('a'), ttlMs, false);
    await clock.advance(10 * ttlMs);
    expect(ids(held.resend())).toEqual(['a']);
  });

  it('keeps one sent just before the session was lost, whenever the next one comes up', async () => {
    const clock = new ManualClock();
    const held = new CompletionsInDoubt(clock);
    held.add(completion('a'), ttlMs, true);
    await clock.advance(1_000);
    held.lost();
    await clock.advance(5 * ttlMs);
    // A job ending meanwhile does not make the outage count against the first one.
    held.add(completion('b'), ttlMs, false);
    expect(ids(held.resend())).toEqual(['a', 'b']);
  });

  it('forgets one that went out on a session that then stayed up for its TTL', async () => {
    const clock = new ManualClock();
    const held = new CompletionsInDoubt(clock);
    held.add(completion('a'), ttlMs, true);
    await clock.advance(ttlMs);
    held.lost();
    await clock.advance(ttlMs);
    expect(held.resend()).toEqual([]);
    held.add(completion('b'), ttlMs, true);
    await clock.advance(ttlMs);
    held.add(completion('c'), ttlMs, true);
    expect(held.size).toBe(1);
    expect(held.shortestTtlMs()).toBe(ttlMs);
  });

  // A proxy that caps connection life, or a flaky link: no session lasts a TTL, yet they add up.
  it('adds up the time it was out on sessions that each dropped sooner than its TTL', async () => {
    const clock = new ManualClock();
    const held = new CompletionsInDoubt(clock);
    held.add(completion('a'), ttlMs, true);
    await clock.advance(ttlMs / 2 - 1);
    held.lost();
    await clock.advance(ttlMs);
    expect(ids(held.resend())).toEqual(['a']);
    await clock.advance(ttlMs / 2 - 1);
    held.lost();
    expect(ids(held.resend())).toEqual(['a']);
    await clock.advance(2);
    held.lost();
    expect(held.resend()).toEqual([]);
    expect(held.shortestTtlMs()).toBeUndefined();
  });

  // Sent into a connection that was already dead: the loss is noticed (a keep-alive timing out) long
  // after the server was last heard from, and only the time until then counts.
  it('counts a session up only until the server was last heard from on it', async () => {
    const clock = new ManualClock();
    let heardAt: number | undefined = clock.now();
    const held = new CompletionsInDoubt(clock, { heardAt: () => heardAt });
    await clock.advance(1_000);
    held.add(completion('a'), ttlMs, true);
    await clock.advance(2 * ttlMs);
    held.add(completion('b'), ttlMs, true);
    expect(held.size).toBe(2);
    held.lost();
    expect(ids(held.resend())).toEqual(['a', 'b']);
    heardAt = clock.now() + ttlMs - 1;
    await clock.advance(ttlMs);
    held.lost();
    expect(ids(held.resend())).toEqual(['a', 'b']);
    heardAt = clock.now() + 1;
    await clock.advance(ttlMs);
    expect(held.shortestTtlMs()).toBeUndefined();
  });

  // An idle runner must not keep reconnecting at a third of the TTL through a whole outage.
  it('forgets settled ones before it tells its shortest TTL', async () => {
    const clock = new ManualClock();
    const held = new CompletionsInDoubt(clock);
    held.add(completion('a'), ttlMs, true);
    held.add(completion('b'), 2 * ttlMs, true);
    await clock.advance(ttlMs);
    expect(held.shortestTtlMs()).toBe(2 * ttlMs);
    await clock.advance(ttlMs);
    held.lost();
    await clock.advance(ttlMs);
    expect(held.shortestTtlMs()).toBeUndefined();
  });

  it('keeps at most its limit, dropping the oldest and saying which', () => {
    const dropped: string[] = [];
    const held = new CompletionsInDoubt(new ManualClock(), { onDropped: (c) => dropped.push(c.jobId) });
    held.lost();
    for (let i = 0; i <= maxCompletionsInDoubt; i++) held.add(completion(`j${i}`), ttlMs, false);
    expect(held.size).toBe(maxCompletionsInDoubt);
    expect(dropped).toEqual(['j0']);
    const again = held.resend();
    expect(again[0]?.jobId).toBe('j1');
    // Its resume entries, of the longest job ids, fit well within a frame.
    const resume = again.map(({ fencingToken }, i) => ({
      jobId: `${i}`.padEnd(maxJobIdLength, 'x'),
      fencingToken: fencingToken + 2 ** 40,
      completed: true,
    }));
    expect(encodeFrame({ type: 'register', resume }).length).toBeLessThan(defaultMaxFrameBytes / 4);
  });

  it('forgets one the control plane stored or refused under its token, or whose job is leased again', () => {
    const held = new CompletionsInDoubt(new ManualClock());
    held.add(completion('a', 3), ttlMs, true);
    held.add(completion('b'), 2 * ttlMs, true);
    held.answered('a', 2);
    expect(held.size).toBe(2);
    held.answered('a', 3);
    expect(held.shortestTtlMs()).toBe(2 * ttlMs);
    held.forget('b');
    expect(held.size).toBe(0);
  });
});
