import { afterEach, beforeEach, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import type { Lease } from '../../src/store/queue.js';
import {
  describeOnPostgres,
  dropSchema,
  postgresUrl,
  tableCounters,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';

const title = 'Postgres queue batches';
const held = 3000;
const batch = 100;

describeOnPostgres(title, () => {
  let schema = '';
  beforeEach(() => {
    schema = uniqueSchema();
  });
  afterEach(() => dropSchema(schema));

  const open = () => openPostgresStores(postgresUrl, { schema, queue: { capacity: held } });

  /** queue_jobs' counters once `updated` row updates have reached the server. */
  const tableCounts = (updated: number) => tableCounters(schema, 'queue_jobs', (c) => c.updated >= updated);

  it('completes and releases batches reading their own rows, not every leased row, after an ANALYZE saw none', async () => {
    const leases: Lease[] = [];
    {
      await using stores = await open();
      await stores.queue.enqueue(Array.from({ length: held }, (_, i) => ({ task: 't', payload: { i } })));
      // Statistics that say no row is leased: the estimate that turned the old statements' plans quadratic.
      await withRawClient((client) => client.query(`ANALYZE "${schema}".queue_jobs`));
      while (leases.length < held) {
        leases.push(...(await stores.queue.claim({ worker: 'w', limit: 1000, ttlMs: 60_000 })));
      }
    }
    const before = await tableCounts(held);

    {
      await using stores = await open();
      const firstHalf = leases.slice(0, held / 2);
      // Ids far apart (read one by one), and a write under a stale token among them.
      const scattered = firstHalf.filter((_, i) => i % 15 === 0);
      const late = firstHalf[1];
      if (late === undefined) throw new Error('no lease');
      const results = await stores.queue.complete(
        [...scattered, { ...late, token: late.token - 1 }].map((lease) => ({
          lease,
          outcome: { kind: 'succeeded' },
        })),
      );
      expect(results.map((result) => result.kind)).toEqual([...scattered.map(() => 'completed'), 'stale']);
      expect((await stores.queue.staleWrites(late.jobId)).map((write) => write.action)).toEqual(['complete']);
      // Ids close together (their range is read), in more batches than the 5 custom plans after which
      // a connection may keep a generic one.
      const rest = firstHalf.filter((_, i) => i % 15 !== 0);
      for (let i = 0; i < rest.length; i += batch) {
        const slice = rest.slice(i, i + batch);
        const results = await stores.queue.complete(
          slice.map((lease) => ({ lease, outcome: { kind: 'succeeded' } })),
        );
        expect(results.every((result) => result.kind === 'completed')).toBe(true);
      }
      for (let i = held / 2; i < held; i += batch) {
        const results = await stores.queue.release(leases.slice(i, i + batch).map((lease) => ({ lease })));
        expect(results.every((result) => result.kind === 'released')).toBe(true);
      }
    }
    const after = await tableCounts(before.updated + held);

    expect(after.updated - before.updated).toBe(held);
    // One fetch per settled row, with room for the odd dead index entry; reading every leased row
    // per batch fetched about held² / (2 × batch) = 45,000.
    expect(after.fetchedByIndex - before.fetchedByIndex).toBeLessThan(2 * held);
  }, 60_000);
});
