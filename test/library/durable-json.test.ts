import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../src/library/events.js';
import { outcomeOfStoredJob } from '../../src/library/stored-job.js';
import { asQueueJobId } from '../../src/store/queue.js';
import { durableStoreKinds, openOn } from './durable-stores.js';
import { fixture } from './helpers.js';

for (const [name, make, skip] of durableStoreKinds) {
  describe.skipIf(skip !== undefined)(`JSON values on ${name}`, () => {
    it('fails an output JSON cannot hold, alike in the handle, the event and the store', async () => {
      const engine = await openOn(await make());
      const task = engine.task('returnsValue', { module: fixture(), exportName: 'returnsValue' });
      const events: EngineEvent[] = [];
      engine.onEvent((event) => events.push(event));
      const cases = [
        ['bigint', 'output.a is a BigInt'],
        ['map', 'output is a Map'],
        ['set', 'output.list[1] is a Set'],
      ] as const;
      for (const [kind, where] of cases) {
        const job = engine.enqueue(task, kind, { idempotencyKey: kind });
        const outcome = await job.result;
        expect(outcome).toMatchObject({ kind: 'failed', reason: 'output', attempts: 1 });
        const message = outcome.kind === 'failed' ? outcome.error.message : '';
        expect(message).toBe(`the output cannot be stored as JSON: ${where}, which JSON cannot hold`);
        const stored = await engine.getStoredJob(job.storeId ?? '');
        expect(stored).toMatchObject({ state: 'failed', outcome });
        // The store answers a repeated key from then on, with the same outcome.
        await expect(engine.enqueue(task, kind, { idempotencyKey: kind }).result).resolves.toEqual(outcome);
      }
      expect(events.filter((event) => event.type === 'job.succeeded')).toEqual([]);
      // Three that ran, three answered by the store.
      expect(events.filter((event) => event.type === 'job.failed')).toHaveLength(6);
    });

    it('hands out an output in the JSON form the store keeps', async () => {
      const engine = await openOn(await make());
      const task = engine.task('returnsValue', { module: fixture(), exportName: 'returnsValue' });
      const events: EngineEvent[] = [];
      engine.onEvent((event) => events.push(event));
      const job = engine.enqueue(task, 'date');
      const outcome = await job.result;
      expect(outcome).toEqual({ kind: 'succeeded', output: { at: '1970-01-01T00:00:00.000Z' }, attempts: 1 });
      expect(events.find((event) => event.type === 'job.succeeded')).toMatchObject({
        output: { at: '1970-01-01T00:00:00.000Z' },
      });
      expect((await engine.getStoredJob(job.storeId ?? ''))?.outcome).toEqual(outcome);
    });

    it('gives every attempt the input the store holds, and fails one JSON cannot hold', async () => {
      const engine = await openOn(await make());
      const task = engine.task('describesInput', { module: fixture(), exportName: 'describesInput' });
      const retried = engine.enqueue(
        task,
        { when: new Date(0), failUntil: 2, n: Number.NaN },
        { retry: { retryOn: ['threw'] } },
      );
      await expect(retried.result).resolves.toEqual({
        kind: 'succeeded',
        output: { seen: 'String', input: { when: '1970-01-01T00:00:00.000Z', failUntil: 2, n: null } },
        attempts: 2,
      });
      const set = engine.enqueue(task, { when: 1, tags: new Set(['a']) });
      await expect(set.result).resolves.toMatchObject({
        kind: 'failed',
        reason: 'input',
        error: { message: 'the input cannot be stored as JSON: input.tags is a Set, which JSON cannot hold' },
        attempts: 0,
      });
      const cycle: Record<string, unknown> = { when: 1 };
      cycle.self = { back: cycle };
      await expect(engine.enqueue(task, cycle).result).resolves.toMatchObject({
        error: { message: expect.stringContaining('input.self.back is a reference back to input (a cycle)') },
      });
    });
  });
}

describe('a failed output recorded without its error', () => {
  it('reads back with the record text as its error', () => {
    // As engines before the output check recorded an output JSON could not hold.
    const outcome = outcomeOfStoredJob({
      id: asQueueJobId('1'),
      task: 'returnsValue',
      payload: { input: 'bigint' },
      priority: 'normal',
      state: 'failed',
      attempts: 1,
      createdAt: 0,
      outcome: {
        kind: 'failed',
        error: 'the output cannot be stored as JSON: Do not know how to serialize a BigInt',
        detail: { kind: 'failed', reason: 'output', attempts: 1 },
      },
    });
    expect(outcome).toEqual({
      kind: 'failed',
      reason: 'output',
      error: {
        name: 'TypeError',
        message: 'the output cannot be stored as JSON: Do not know how to serialize a BigInt',
      },
      attempts: 1,
    });
  });
});
