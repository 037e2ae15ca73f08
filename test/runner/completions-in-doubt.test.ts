import { describe, expect, it } from 'vitest';
import { type Completion, CompletionsInDoubt } from '../../src/runner/completions-in-doubt.js';
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

  it('counts its TTL again from each session it is sent again on', async () => {
    const clock = new ManualClock();
    const held = new CompletionsInDoubt(clock);
    held.add(completion('a'), ttlMs, true);
    await clock.advance(ttlMs - 1);
    held.lost();
    await clock.advance(ttlMs);
    expect(ids(held.resend())).toEqual(['a']);
    await clock.advance(ttlMs - 1);
    held.lost();
    expect(ids(held.resend())).toEqual(['a']);
    await clock.advance(ttlMs);
    expect(held.resend()).toEqual([]);
    expect(held.shortestTtlMs()).toBeUndefined();
  });

  it('forgets one the control plane refused under its token, or whose job is leased again', () => {
    const held = new CompletionsInDoubt(new ManualClock());
    held.add(completion('a', 3), ttlMs, true);
    held.add(completion('b'), 2 * ttlMs, true);
    held.refused('a', 2);
    expect(held.size).toBe(2);
    held.refused('a', 3);
    expect(held.shortestTtlMs()).toBe(2 * ttlMs);
    held.forget('b');
    expect(held.size).toBe(0);
  });
});
