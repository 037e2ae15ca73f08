import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { NewQueueJob } from '../../src/store/queue.js';
import type { OpenedStores, StoresFactory } from './fixture.js';
import { ManualClock } from './queue-clock.js';

/** `bytes` of base64 text: random, so that Postgres cannot compress it under its index's limit. */
const randomKey = (bytes: number) => randomBytes(bytes).toString('base64').slice(0, bytes);

function circular(): unknown {
  const value: { self?: unknown } = {};
  value.self = value;
  return value;
}

/**
 * What `enqueue` refuses, the same on every store: a batch holding a job either store could not
 * keep as given is refused whole with VK_USAGE naming the job and its field, and nothing is written.
 * (SQLite took each of these and Postgres failed on them with its own words, or stored another task;
 * a payload with no JSON failed as VK_STORE on both.)
 */
export function queueEnqueueInputContract(make: StoresFactory): void {
  let opened: OpenedStores | undefined;
  afterEach(async () => {
    await opened?.cleanup();
    opened = undefined;
  });
  const open = async () => {
    opened = await make({ queue: { clock: new ManualClock() } });
    return opened.stores.queue;
  };
  const good: NewQueueJob = { task: 'good', payload: 1 };

  describe('enqueue input', () => {
    const refused: ReadonlyArray<readonly [string, NewQueueJob, RegExp]> = [
      [
        'an idempotency key with a NUL',
        { task: 't', payload: 1, idempotencyKey: 'a\0b' },
        /jobs\[1\]\.idempotencyKey: "a\\u0000b" holds a NUL character/,
      ],
      [
        'an idempotency key past 1024 bytes',
        { task: 't', payload: 1, idempotencyKey: randomKey(1025) },
        /jobs\[1\]\.idempotencyKey: expected at most 1024 bytes \(UTF-8\), received 1025/,
      ],
      ['a task with a NUL', { task: 't\0', payload: 1 }, /jobs\[1\]\.task: "t\\u0000" holds a NUL character/],
      [
        'an idempotency key with a lone surrogate',
        { task: 't', payload: 1, idempotencyKey: 'k\uDC00' },
        /jobs\[1\]\.idempotencyKey: "k\\udc00" holds a lone UTF-16 surrogate \(U\+DC00\), which UTF-8 cannot encode/,
      ],
      [
        'a task with a lone surrogate',
        { task: 'a\uD800', payload: 1 },
        /jobs\[1\]\.task: "a\\ud800" holds a lone UTF-16 surrogate \(U\+D800\)/,
      ],
      [
        'maxAttempts past 2^31 - 1',
        { task: 't', payload: 1, maxAttempts: 2 ** 31 },
        /jobs\[1\]\.maxAttempts: expected a whole number from 1 to 2147483647, received 2147483648/,
      ],
      [
        'an unknown lease-expiry policy',
        { task: 't', payload: 1, onLeaseExpiry: 'explode' as 'fail' },
        /jobs\[1\]\.onLeaseExpiry: expected 'requeue' or 'fail', received "explode"/,
      ],
      [
        'a BigInt payload',
        { task: 't', payload: 1n },
        /jobs\[1\]\.payload: cannot be written as JSON: Do not know how to serialize a BigInt$/,
      ],
      [
        'a circular payload',
        { task: 't', payload: circular() },
        /jobs\[1\]\.payload: cannot be written as JSON: Converting circular structure to JSON$/,
      ],
      [
        'a function as payload',
        { task: 't', payload: () => 1 },
        /jobs\[1\]\.payload: cannot be written as JSON: received a function$/,
      ],
    ];
    for (const [what, bad, message] of refused) {
      it(`refuses a batch with ${what} whole, writing nothing`, async () => {
        const queue = await open();
        const submission = queue.enqueue([good, bad]);
        await expect(submission).rejects.toMatchObject({ code: 'VK_USAGE' });
        await expect(submission).rejects.toThrow(message);
        expect(await queue.claim({ worker: 'w', limit: 10, ttlMs: 1000 })).toEqual([]);
      });
    }

    it('keeps the largest key and attempt bound it takes, and finds the key again', async () => {
      const queue = await open();
      const key = randomKey(1024);
      const [first] = await queue.enqueue([
        { task: 't', payload: 1, idempotencyKey: key, maxAttempts: 2 ** 31 - 1 },
      ]);
      expect(first?.kind).toBe('created');
      const [again] = await queue.enqueue([{ task: 't', payload: 1, idempotencyKey: key }]);
      expect(again).toMatchObject({ kind: 'existing', job: { id: first?.job.id, idempotencyKey: key } });
    });
  });
}
