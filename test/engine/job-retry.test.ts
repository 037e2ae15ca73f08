import { describe, expect, it } from 'vitest';
import { retryLogLine } from '../../src/engine/job-retry.js';
import type { Effect, Leg } from '../../src/engine/leg.js';
import type { RunCoordinator } from '../../src/engine/run-coordinator.js';
import { coordinator as coordinatorOf } from './coordinator-fixtures.js';

// random() = 0 draws the longest wait under jitter, so the delays below are exact.
const coordinator = (yaml: string): RunCoordinator => coordinatorOf(yaml, {}, () => 0);

const queued = (effects: Effect[]) =>
  effects.filter((effect) => effect.kind === 'queue').map((effect) => effect.leg.name);

function legNamed(effects: Effect[], name: string): Leg {
  const leg = effects.find((effect) => effect.leg.name === name)?.leg;
  if (!leg) throw new Error(`no effect for ${name}`);
  return leg;
}

const retryEffect = (effects: Effect[]) => {
  const [effect] = effects;
  if (effects.length !== 1 || effect?.kind !== 'retry')
    throw new Error(`not one retry: ${JSON.stringify(effects.map((e) => e.kind))}`);
  return effect;
};

describe('retryLogLine', () => {
  it('numbers the attempt as max-attempts counts, and both when a re-run or a requeue set them apart', () => {
    expect(retryLogLine(1, { tries: 1, max: 3 }, 2000, 'step "a" failed with exit code 3')).toBe(
      'attempt 1 of 3 failed (step "a" failed with exit code 3); retrying in 2s',
    );
    expect(retryLogLine(4, { tries: 1, max: 3 }, 250, 'timeout')).toBe(
      'attempt 4 (try 1 of 3) failed (timeout); retrying in 250ms',
    );
  });
});

describe('job retries in the coordinator', () => {
  it('queues a failed attempt again with its delay; dependants wait for the final attempt', () => {
    const c = coordinator(`jobs:
  flaky:
    runs-on: x
    retry: {max-attempts: 3, delay: 100ms, backoff: linear, jitter: true}
    steps: [{ run: a }]
  after: { needs: flaky, runs-on: x, steps: [{ run: b }] }
`);
    const first = c.advance();
    const leg = legNamed(first, 'flaky');
    c.started(leg.id, 10);
    const retry1 = retryEffect(
      c.completed(leg.id, 'failed', {}, 20, 'step "a" failed', { kind: 'failed', exitCode: 1 }),
    );
    expect(retry1).toMatchObject({
      delayMs: 100,
      reason: 'step "a" failed',
      ended: { attempt: 1, status: 'failed', startedAt: 10, finishedAt: 20 },
      line: 'attempt 1 of 3 failed (step "a" failed); retrying in 100ms',
    });
    expect(leg).toMatchObject({ status: 'queued', attempt: 2 });
    c.started(leg.id, 30);
    const retry2 = retryEffect(c.completed(leg.id, 'timed_out', {}, 40));
    expect(retry2).toMatchObject({
      delayMs: 200,
      reason: 'timeout',
      ended: { attempt: 2, status: 'timed_out' },
      line: 'attempt 2 of 3 failed (timeout); retrying in 200ms',
    });
    c.started(leg.id, 50);
    const last = c.completed(leg.id, 'succeeded', { out: 'x' }, 60);
    expect(queued(last)).toEqual(['after']);
    expect(leg).toMatchObject({ status: 'succeeded', attempt: 3 });
    // The run's summary gives the job its time from its first attempt's start, as `show` does.
    expect(c.summaries()).toContainEqual({ name: 'flaky', status: 'succeeded', durationMs: 50 });
  });

  it('ends with the last attempt once max-attempts is reached', () => {
    const c = coordinator(`jobs:
  flaky: { runs-on: x, retry: {max-attempts: 2, delay: 0}, steps: [{ run: a }] }
  after: { needs: flaky, runs-on: x, steps: [{ run: b }] }
`);
    const leg = legNamed(c.advance(), 'flaky');
    c.started(leg.id, 1);
    retryEffect(c.completed(leg.id, 'failed', {}, 2));
    c.started(leg.id, 3);
    const final = c.completed(leg.id, 'failed', {}, 4);
    expect(final.map((effect) => [effect.kind, effect.leg.name])).toEqual([
      ['add', 'after'],
      ['finish', 'after'],
    ]);
    expect(c.status()).toBe('failed');
  });

  it('retries only what when: names: runner-lost, or listed exit codes', () => {
    const c = coordinator(`jobs:
  lost: { runs-on: x, retry: {max-attempts: 3, when: [runner-lost]}, steps: [{ run: a }] }
  codes: { runs-on: x, retry: {max-attempts: 3, when: [{exit-codes: [3]}]}, steps: [{ run: a }] }
`);
    const effects = c.advance();
    const lost = legNamed(effects, 'lost');
    const codes = legNamed(effects, 'codes');
    c.started(lost.id, 1);
    expect(
      retryEffect(c.completed(lost.id, 'failed', {}, 2, 'runner_lost: gone', { kind: 'runner_lost' })).reason,
    ).toBe('runner_lost: gone');
    c.started(lost.id, 3);
    expect(c.completed(lost.id, 'failed', {}, 4, 'exit', { kind: 'failed', exitCode: 1 })).toEqual([]);
    expect(lost.status).toBe('failed');
    c.started(codes.id, 1);
    retryEffect(c.completed(codes.id, 'failed', {}, 2, undefined, { kind: 'failed', exitCode: 3 }));
    c.started(codes.id, 3);
    c.completed(codes.id, 'failed', {}, 4, undefined, { kind: 'failed', exitCode: 1 });
    expect(codes).toMatchObject({ status: 'failed', attempt: 2 });
  });

  it('applies fail-fast only after the last attempt of a matrix leg', () => {
    const c = coordinator(`jobs:
  m:
    runs-on: x
    retry: {max-attempts: 2, delay: 0}
    strategy: { matrix: { n: [1, 2] } }
    steps: [{ run: a }]
`);
    const effects = c.advance();
    const [one, two] = [legNamed(effects, 'm (1)'), legNamed(effects, 'm (2)')];
    c.started(one.id, 1);
    c.started(two.id, 1);
    retryEffect(c.completed(one.id, 'failed', {}, 2));
    expect(two.status).toBe('running');
    c.started(one.id, 3);
    const final = c.completed(one.id, 'failed', {}, 4);
    expect(final.map((effect) => [effect.kind, effect.leg.name])).toEqual([['cancel', 'm (2)']]);
  });

  it('cancels a leg that waits for its next attempt when the run is cancelled, and retries nothing after', () => {
    const c = coordinator(`jobs:
  a: { runs-on: x, retry: {max-attempts: 3}, steps: [{ run: a }] }
  b: { runs-on: x, retry: {max-attempts: 3}, steps: [{ run: b }] }
`);
    const effects = c.advance();
    const [a, b] = [legNamed(effects, 'a'), legNamed(effects, 'b')];
    c.started(a.id, 1);
    c.started(b.id, 1);
    retryEffect(c.completed(a.id, 'failed', {}, 2));
    const cancelled = c.cancel(false);
    expect(cancelled.map((effect) => [effect.kind, effect.leg.name])).toEqual([
      ['finish', 'a'],
      ['cancel', 'b'],
    ]);
    expect(a.status).toBe('cancelled');
    expect(c.completed(b.id, 'failed', {}, 3).some((effect) => effect.kind === 'retry')).toBe(false);
    expect(b.status).toBe('failed');
  });
});
