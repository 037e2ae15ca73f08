import { describe, expect, it } from 'vitest';
import { isValkyrieError } from '../../src/core/errors.js';
import type { Engine } from '../../src/library/engine.js';
import { engineStoreKinds, openOn } from './durable-stores.js';
import { fixture } from './helpers.js';

function conflictOf(enqueue: () => unknown): string {
  try {
    enqueue();
  } catch (error) {
    if (isValkyrieError(error) && error.code === 'VK_IDEMPOTENCY_CONFLICT') return error.message;
    throw error;
  }
  throw new Error('expected VK_IDEMPOTENCY_CONFLICT');
}

function tasksOf(engine: Engine) {
  return {
    echo: engine.task('echo', { module: fixture() }),
    sum: engine.task('sum', { module: fixture(), exportName: 'sum' }),
  };
}

for (const [name, make, skip] of engineStoreKinds) {
  describe.skipIf(skip !== undefined)(`idempotency keys on ${name}`, () => {
    it('refuses a key reused for another task or input, and follows a repeat', async () => {
      const engine = await openOn(await make());
      const { echo, sum } = tasksOf(engine);
      const first = engine.enqueue(echo, { a: 1, b: [1, 2] }, { idempotencyKey: 'k1' });
      // Key order does not count: the same input again is a repeat.
      expect(engine.enqueue(echo, { b: [1, 2], a: 1 }, { idempotencyKey: 'k1' })).toBe(first);
      expect(conflictOf(() => engine.enqueue(echo, { a: 2 }, { idempotencyKey: 'k1' }))).toBe(
        'enqueue(): idempotency key "k1" belongs to job 1, of task "echo" with another input; received task "echo"; nothing was enqueued',
      );
      expect(conflictOf(() => engine.enqueue(sum, { a: 1, b: [1, 2] }, { idempotencyKey: 'k1' }))).toContain(
        'belongs to job 1, of task "echo"; received task "sum"',
      );
      // All or nothing: a conflict inside one enqueueMany call refuses the call.
      const message = conflictOf(() =>
        engine.enqueueMany([
          { task: echo, input: 'x', options: { idempotencyKey: 'k2' } },
          { task: echo, input: 'y', options: { idempotencyKey: 'k2' } },
        ]),
      );
      expect(message).toContain('enqueueMany()[1]: idempotency key "k2" belongs to job');
      expect(engine.stats().unsettled).toBe(1);
      await expect(first.result).resolves.toMatchObject({ kind: 'succeeded', output: { a: 1, b: [1, 2] } });
    });

    it('lets an enqueueMany request whose input JSON cannot hold share a key, as enqueue calls do', async () => {
      const engine = await openOn(await make());
      const { echo } = tasksOf(engine);
      const notJson = { kind: 'failed', reason: 'input', attempts: 0, error: { code: 'VK_NOT_JSON' } };
      // A refused input holds no key, so the request after it is the key's first job...
      const [refused, kept] = engine.enqueueMany([
        { task: echo, input: { a: 1n }, options: { idempotencyKey: 'k1' } },
        { task: echo, input: { a: 1 }, options: { idempotencyKey: 'k1' } },
      ]);
      await expect(refused?.result).resolves.toMatchObject(notJson);
      await expect(kept?.result).resolves.toMatchObject({ kind: 'succeeded', output: { a: 1 } });
      // ...and one refused after a request that holds the key fails alone, as enqueue() fails it.
      const [holder, late] = engine.enqueueMany([
        { task: echo, input: { a: 2 }, options: { idempotencyKey: 'k2' } },
        { task: echo, input: { a: 2n }, options: { idempotencyKey: 'k2' } },
      ]);
      await expect(late?.result).resolves.toMatchObject(notJson);
      await expect(holder?.result).resolves.toMatchObject({ kind: 'succeeded', output: { a: 2 } });
      const single = engine.enqueue(echo, { a: 2n }, { idempotencyKey: 'k2' });
      await expect(single.result).resolves.toMatchObject(notJson);
    });

    it('refuses it after the job ended too, from the store on a durable one', async () => {
      const store = await make();
      const engine = await openOn(store);
      const { echo } = tasksOf(engine);
      await engine.enqueue(echo, 'first', { idempotencyKey: 'k1' }).result;
      if (name === 'memory') {
        expect(conflictOf(() => engine.enqueue(echo, 'second', { idempotencyKey: 'k1' }))).toContain('"k1"');
        return;
      }
      // Another engine on the store (as another process) learns of the key from the store.
      for (const other of [engine, await openOn(store)]) {
        const { echo: task } = tasksOf(other);
        await expect(other.enqueue(task, 'second', { idempotencyKey: 'k1' }).result).resolves.toEqual({
          kind: 'cancelled',
          reason:
            'the store refused the job: VK_IDEMPOTENCY_CONFLICT: idempotency key "k1" belongs to stored job 1, of task "echo" with another input; received task "echo"',
          code: 'VK_IDEMPOTENCY_CONFLICT',
          attempts: 0,
        });
        await expect(other.enqueue(task, 'first', { idempotencyKey: 'k1' }).result).resolves.toMatchObject({
          kind: 'succeeded',
          output: 'first',
        });
      }
    });
  });
}
