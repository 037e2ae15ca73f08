import { describe, expect, it } from 'vitest';
import { openEngine } from '../../src/library/engine.js';
import { durableStoreKinds, openOn } from './durable-stores.js';
import { fixture } from './helpers.js';

// Values past these bounds were taken by enqueue() and openEngine(), then failed in the store: a job
// ended `cancelled` by the store's refusal (on Postgres alone for maxAttempts), or an engine's every
// claim failed while its renewal timer overflowed into firing each millisecond.
for (const [name, makeStore, skip] of durableStoreKinds) {
  describe.skipIf(skip !== undefined)(`the bounds of numeric options, on ${name}`, () => {
    it('refuses a delay past 100 years and an attempt bound past 2^31 - 1 at the call, naming them', async () => {
      const engine = await openOn(await makeStore());
      const echo = engine.task('echo', { module: fixture() });
      expect(() => engine.enqueue(echo, 1, { delayMs: 1e20 })).toThrow(
        /^enqueue\(\) options\.delayMs must be a number from 0 to 3162240000000 \(100 years\); received 100000000000000000000$/,
      );
      expect(() => engine.enqueue(echo, 1, { retry: { maxAttempts: 1e12 } })).toThrow(
        /^enqueue\(\) options\.retry\.maxAttempts must be an integer from 1 to 2147483647; received 1000000000000$/,
      );
      expect(() => engine.enqueue(echo, 1, { retry: { maxDelayMs: 1e20 } })).toThrow(
        /options\.retry\.maxDelayMs must be a number from 0 to 3162240000000/,
      );
      expect(() => engine.enqueue(echo, 1, { idempotencyKey: 'a\0b' })).toThrow(
        /options\.idempotencyKey must be at most 1024 bytes \(UTF-8\), without NUL or lone surrogates; received '"a\\u0000b"'/,
      );
      expect(() => engine.enqueue(echo, 1, { idempotencyKey: 'a\uD800' })).toThrow(
        /options\.idempotencyKey must be .*; received '"a\\ud800"'/,
      );
      expect(() => engine.enqueue(echo, 1, { idempotencyKey: 'é'.repeat(513) })).toThrow(
        /options\.idempotencyKey must be .*; received 'a key of 1026 bytes'/,
      );
      // The bounds themselves are stored and run as any job.
      const job = engine.enqueue(echo, 'at the bound', { retry: { maxAttempts: 2_147_483_647 } });
      await expect(job.result).resolves.toMatchObject({ kind: 'succeeded', output: 'at the bound' });
      expect(engine.stats().unsettled).toBe(0);
    });

    it('refuses a lease TTL past 2^31 - 1 ms when the engine opens', async () => {
      const store = await makeStore();
      if (typeof store !== 'object' || store.kind === 'memory') throw new Error('a durable store');
      await expect(openEngine({ store: { ...store, leaseTtlMs: 1e300 } })).rejects.toThrow(
        /^openEngine\(\): option "store"\.leaseTtlMs must be an integer from 1 to 2147483647; received 1e\+300$/,
      );
    });
  });
}
