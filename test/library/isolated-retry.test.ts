import { describe, expect, it } from 'vitest';
import type { EngineEvent, JobOutcome } from '../../src/library/events.js';
import type { JobOptions } from '../../src/library/options.js';
import { fixture, openTestEngine } from './helpers.js';

/**
 * 100 jobs of 100 ms and one that ends its worker thread 20 ms after it began, enqueued tenth, on
 * two threads of 16 slots each (the default slots): the jobs before it on its thread began before
 * it, so they are running when it exits (their timers are due 80 ms after its own).
 */
async function runBesideCulprit(innocentOptions?: JobOptions): Promise<{
  innocents: JobOutcome[];
  culprit: JobOutcome;
  events: EngineEvent[];
}> {
  const { engine, events } = await openTestEngine({ pool: { minThreads: 2, maxThreads: 2 } });
  const sleep = engine.task<number, string>('sleep', { module: fixture(), exportName: 'sleep' });
  const exits = engine.task<number, never>('exits', { module: fixture(), exportName: 'exitsAfter' });
  const innocents = Array.from({ length: 9 }, () => engine.enqueue(sleep, 100, innocentOptions));
  const culprit = engine.enqueue(exits, 20);
  innocents.push(...Array.from({ length: 91 }, () => engine.enqueue(sleep, 100, innocentOptions)));
  return {
    innocents: await Promise.all(innocents.map((job) => job.result)),
    culprit: await culprit.result,
    events,
  };
}

function lostAttempts(events: EngineEvent[], task: string): number {
  return events.filter(
    (event) => event.type === 'job.retried' && event.task === task && event.outcome.kind === 'worker_lost',
  ).length;
}

describe('Engine: a job that ends its worker thread takes down no other job', () => {
  it('by default: every other job succeeds, the culprit ends worker_lost after its own 3 attempts', async () => {
    const { innocents, culprit, events } = await runBesideCulprit();
    expect(innocents.filter((outcome) => outcome.kind !== 'succeeded')).toEqual([]);
    // Its first attempt, beside others, is forgiven; the next three run alone and count.
    expect(culprit).toMatchObject({ kind: 'worker_lost', reason: 'exited', sharedWith: 0, attempts: 4 });
    expect(events.filter((event) => event.type === 'worker.replaced')).toHaveLength(4);
    // Only the culprit's first (shared) attempt took others down: none of them was lost twice.
    const lost = lostAttempts(events, 'sleep');
    expect(lost).toBeGreaterThan(0);
    expect(lost).toBeLessThan(16);
    expect(innocents.every((outcome) => outcome.attempts <= 2)).toBe(true);
  }, 30_000);

  it('a bystander lost with the culprit retries alone even under maxAttempts: 1; its attempt is not counted', async () => {
    const { innocents, culprit } = await runBesideCulprit({ retry: { maxAttempts: 1 } });
    expect(innocents.filter((outcome) => outcome.kind !== 'succeeded')).toEqual([]);
    expect(innocents.filter((outcome) => outcome.attempts === 2).length).toBeGreaterThan(0);
    expect(culprit).toMatchObject({ kind: 'worker_lost', attempts: 4 });
  }, 30_000);

  it('retryOn without worker_lost still means no second run: a bystander ends worker_lost, sharedWith > 0', async () => {
    const { innocents } = await runBesideCulprit({ retry: { retryOn: [] } });
    const lost = innocents.filter((outcome) => outcome.kind === 'worker_lost');
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.every((outcome) => outcome.kind === 'worker_lost' && (outcome.sharedWith ?? 0) > 0)).toBe(
      true,
    );
    expect(lost.every((outcome) => outcome.attempts === 1)).toBe(true);
  }, 30_000);
});
