import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AttemptOutcome,
  backoffKinds,
  decideRetry,
  defaultRetryPolicy,
  type RetryPolicy,
  retryDelay,
  shouldRetry,
} from '../../src/core/retry-delay.js';

const policyArb = fc.record({
  maxAttempts: fc.integer({ min: 1, max: 50 }),
  backoff: fc.constantFrom(...backoffKinds),
  delayMs: fc.integer({ min: 0, max: 3_600_000 }),
  maxDelayMs: fc.integer({ min: 0, max: 24 * 3_600_000 }),
  jitter: fc.double({ min: 0, max: 1, noNaN: true }),
  when: fc.constant(defaultRetryPolicy.when),
}) satisfies fc.Arbitrary<RetryPolicy>;

const attemptArb = fc.integer({ min: 1, max: 5000 });
const randomArb = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const outcomeArb: fc.Arbitrary<AttemptOutcome> = fc.oneof(
  fc.constant({ kind: 'succeeded' as const }),
  fc.record({ kind: fc.constant('failed' as const), exitCode: fc.integer({ min: 1, max: 255 }) }),
  fc.constant({ kind: 'failed' as const }),
  fc.constant({ kind: 'timed_out' as const }),
  fc.constant({ kind: 'runner_lost' as const }),
  fc.constant({ kind: 'cancelled' as const }),
  fc.constant({ kind: 'skipped' as const }),
);

const policy = (overrides: Partial<RetryPolicy>): RetryPolicy => ({ ...defaultRetryPolicy, ...overrides });

describe('retryDelay', () => {
  it('is never negative and never exceeds max-delay, with or without jitter', () => {
    fc.assert(
      fc.property(policyArb, attemptArb, randomArb, (p, attempt, r) => {
        const delay = retryDelay(p, attempt, () => r);
        expect(Number.isFinite(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(p.maxDelayMs);
      }),
    );
  });

  it('never decreases from one attempt to the next without jitter (linear, exponential, fibonacci)', () => {
    const growing = fc.constantFrom('linear' as const, 'exponential' as const, 'fibonacci' as const);
    fc.assert(
      fc.property(policyArb, growing, attemptArb, (p, backoff, attempt) => {
        const steady = { ...p, backoff, jitter: 0 };
        expect(retryDelay(steady, attempt + 1)).toBeGreaterThanOrEqual(retryDelay(steady, attempt));
      }),
    );
  });

  it('is the same for every attempt with fixed backoff and no jitter', () => {
    fc.assert(
      fc.property(policyArb, attemptArb, attemptArb, (p, a, b) => {
        const fixed = { ...p, backoff: 'fixed' as const, jitter: 0 };
        expect(retryDelay(fixed, a)).toBe(retryDelay(fixed, b));
        expect(retryDelay(fixed, a)).toBe(Math.min(p.delayMs, p.maxDelayMs));
      }),
    );
  });

  it('keeps jitter within [d × (1 − jitter), d] of the unjittered delay d, give or take the rounding to whole ms', () => {
    fc.assert(
      fc.property(policyArb, attemptArb, randomArb, (p, attempt, r) => {
        const d = retryDelay({ ...p, jitter: 0 }, attempt);
        const jittered = retryDelay(p, attempt, () => r);
        expect(jittered).toBeLessThanOrEqual(d);
        expect(jittered).toBeGreaterThanOrEqual(d * (1 - p.jitter) - 0.5);
      }),
    );
  });

  it('gives whole milliseconds when the unjittered delay is whole', () => {
    fc.assert(
      fc.property(policyArb, attemptArb, randomArb, (p, attempt, r) => {
        expect(Number.isInteger(retryDelay(p, attempt, () => r))).toBe(true);
      }),
    );
  });

  it('draws from the whole range with full jitter', () => {
    const full = policy({ backoff: 'fixed', delayMs: 1000, jitter: 1 });
    expect(retryDelay(full, 1, () => 0)).toBe(1000);
    expect(retryDelay(full, 1, () => 0.5)).toBe(500);
    expect(retryDelay(full, 1, () => 0.999)).toBeCloseTo(1, 6);
  });

  it('follows each backoff curve before the cap', () => {
    const at = (backoff: RetryPolicy['backoff']) =>
      [1, 2, 3, 4, 5, 6].map((n) => retryDelay(policy({ backoff, delayMs: 100 }), n));
    expect(at('fixed')).toEqual([100, 100, 100, 100, 100, 100]);
    expect(at('linear')).toEqual([100, 200, 300, 400, 500, 600]);
    expect(at('exponential')).toEqual([100, 200, 400, 800, 1600, 3200]);
    expect(at('fibonacci')).toEqual([100, 100, 200, 300, 500, 800]);
  });

  it('reaches the cap and stays there, even for absurd attempt numbers', () => {
    const p = policy({ backoff: 'exponential', delayMs: 1000, maxDelayMs: 60_000 });
    expect(retryDelay(p, 7)).toBe(60_000);
    expect(retryDelay(p, 1_000_000)).toBe(60_000);
    expect(retryDelay({ ...p, backoff: 'fibonacci' }, 1_000_000)).toBe(60_000);
    expect(retryDelay({ ...p, delayMs: 0 }, 1_000_000)).toBe(0);
  });
});

describe('shouldRetry', () => {
  it('never retries once attempt reaches max-attempts', () => {
    fc.assert(
      fc.property(policyArb, outcomeArb, fc.integer({ min: 0, max: 100 }), (p, outcome, extra) => {
        expect(shouldRetry(p, outcome, p.maxAttempts + extra)).toBe(false);
      }),
    );
  });

  it('never retries a success, a cancellation or a skip', () => {
    const everything = policy({
      maxAttempts: 10,
      when: [{ kind: 'failure' }, { kind: 'timeout' }, { kind: 'runner-lost' }],
    });
    for (const kind of ['succeeded', 'cancelled', 'skipped'] as const) {
      expect(shouldRetry(everything, { kind }, 1)).toBe(false);
    }
  });

  it('retries by default on failure, timeout and a lost runner', () => {
    const p = policy({ maxAttempts: 3 });
    expect(shouldRetry(p, { kind: 'failed', exitCode: 1 }, 1)).toBe(true);
    expect(shouldRetry(p, { kind: 'failed' }, 2)).toBe(true);
    expect(shouldRetry(p, { kind: 'timed_out' }, 1)).toBe(true);
    expect(shouldRetry(p, { kind: 'runner_lost' }, 1)).toBe(true);
    expect(shouldRetry(p, { kind: 'failed', exitCode: 1 }, 3)).toBe(false);
  });

  it('with exit-codes only, retries those codes and nothing else', () => {
    const p = policy({ maxAttempts: 3, when: [{ kind: 'exit-codes', codes: [3, 75] }] });
    expect(shouldRetry(p, { kind: 'failed', exitCode: 3 }, 1)).toBe(true);
    expect(shouldRetry(p, { kind: 'failed', exitCode: 75 }, 2)).toBe(true);
    expect(shouldRetry(p, { kind: 'failed', exitCode: 1 }, 1)).toBe(false);
    expect(shouldRetry(p, { kind: 'failed' }, 1)).toBe(false);
    expect(shouldRetry(p, { kind: 'timed_out' }, 1)).toBe(false);
  });

  it('does not retry by default: one attempt in all', () => {
    expect(shouldRetry(defaultRetryPolicy, { kind: 'failed', exitCode: 1 }, 1)).toBe(false);
  });
});

describe('decideRetry', () => {
  it('agrees with shouldRetry and retryDelay', () => {
    fc.assert(
      fc.property(policyArb, outcomeArb, fc.integer({ min: 1, max: 60 }), randomArb, (p, o, attempt, r) => {
        const decision = decideRetry(p, o, attempt, () => r);
        expect(decision.kind === 'retry').toBe(shouldRetry(p, o, attempt));
        if (decision.kind === 'retry') {
          expect(decision.nextAttempt).toBe(attempt + 1);
          expect(decision.delayMs).toBe(retryDelay(p, attempt, () => r));
        }
      }),
    );
  });
});
