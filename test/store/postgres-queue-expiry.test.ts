import { afterEach, beforeEach, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { orAfter } from '../core/race-timeout.js';
import {
  describeOnPostgres,
  dropSchema,
  postgresUrl,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';
import { ManualClock } from './queue-clock.js';

const waited = Symbol('still waiting');

describeOnPostgres('Postgres lease expiry', () => {
  let schema = '';
  beforeEach(() => {
    schema = uniqueSchema();
  });
  afterEach(() => dropSchema(schema));

  // A sweep that waited for a row another transaction held, while that transaction (a completion batch
  // of another process, locking in its own order) waited for a row the sweep held, deadlocked; one of
  // the two failed, and the process whose completions failed reported a store error.
  it('passes over an expired lease whose row another transaction holds, and takes it once free', async () => {
    const clock = new ManualClock();
    await using stores = await openPostgresStores(postgresUrl, { schema, queue: { clock } });
    const { queue } = stores;
    await queue.enqueue([1, 2, 3].map((i) => ({ task: 't', payload: i })));
    const leases = await queue.claim({ worker: 'w', limit: 3, ttlMs: 1000 });
    clock.advance(5000);
    const held = leases[1];
    if (held === undefined) throw new Error('nothing claimed');

    await withRawClient(async (client) => {
      await client.query('BEGIN');
      await client.query(`SELECT seq FROM "${schema}".queue_jobs WHERE seq = $1 FOR UPDATE`, [held.jobId]);
      const sweep = await orAfter(queue.expireLeases(), 5000, waited);
      await client.query('ROLLBACK');
      expect(sweep).not.toBe(waited);
      if (sweep === waited) return;
      expect(sweep.map((expired) => expired.jobId).sort()).toEqual(
        [leases[0]?.jobId, leases[2]?.jobId].sort(),
      );
    });
    expect((await queue.expireLeases()).map((expired) => [expired.kind, expired.jobId])).toEqual([
      ['requeued', held.jobId],
    ]);
  });
});
