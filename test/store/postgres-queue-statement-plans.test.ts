import type pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { integerArrayLiteral } from '../../src/store/postgres/array-literal.js';
import type { Statement } from '../../src/store/postgres/database.js';
import { statements } from '../../src/store/postgres/queue-statements.js';
import {
  describeOnPostgres,
  dropSchema,
  queueSchemaWithoutAutovacuum,
  readsDuring,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';

// Migration 44. A named statement keeps a generic plan after five executions (one with no parameters,
// from the first), costed with the statistics of that moment; a connection whose first calls found
// the queue empty must not read every job ever kept on each later call. Each case sends the store's
// own statement (name, text, and values in the store's form) on one connection, as the pool does:
// 8 calls on an empty queue, 2,000 jobs in the state that matters, then the call whose reads count.
describeOnPostgres('Postgres queue statements keep index plans made on an empty queue', () => {
  let schema = '';
  beforeEach(async () => {
    schema = uniqueSchema();
    await queueSchemaWithoutAutovacuum(schema);
  });
  afterEach(() => dropSchema(schema));

  const hour = 3_600_000;
  /** 2,000 jobs, keyed k1 to k2000; `leased`: claimed with leases an hour long; `finished`: claimed and succeeded. */
  const fill = async (client: pg.Client, state: 'leased' | 'finished') => {
    await client.query(
      `SELECT * FROM queue_enqueue_rows(2000, (SELECT json_agg(n) FROM generate_series(1, 2000) AS n),
         '{t}', '{normal}', '{1}', '{NULL}', '{3}', '{requeue}',
         (SELECT array_agg('k' || n) FROM generate_series(1, 2000) AS n), $1, 100000)`,
      [Date.now()],
    );
    await client.query(`SELECT queue_claim_leases($1, 2000, 'w', $2, NULL)`, [Date.now(), Date.now() + hour]);
    if (state === 'finished')
      await client.query(
        `UPDATE queue_jobs SET state = 'succeeded', outcome = '{"kind":"succeeded"}', finished_at = $1,
           lease_worker = NULL, lease_expires_at = NULL`,
        [Date.now()],
      );
  };

  const oneJob = async (client: pg.Client) => {
    const { rows } = await client.query<{ seq: string; lease_token: string }>(
      'SELECT seq::text, lease_token::text FROM queue_jobs ORDER BY seq DESC LIMIT 1',
    );
    return { seq: rows[0]?.seq ?? '0', token: rows[0]?.lease_token ?? '0' };
  };

  interface Case {
    readonly statement: Statement;
    readonly state: 'leased' | 'finished';
    /** The values, in the store's form, for the job `job` (an absent one before the fill). */
    readonly values: (job: { seq: string; token: string }) => unknown[];
    readonly rows: number;
  }
  const cases: Record<string, Case> = {
    'the lease-expiry sweep (none expired)': {
      statement: statements.expire,
      state: 'leased',
      values: () => [Date.now()],
      rows: 0,
    },
    'the read of handed-off leases by id': {
      statement: statements.handedLeases,
      state: 'leased',
      values: (job) => [integerArrayLiteral([job.seq]), integerArrayLiteral([job.token])],
      rows: 1,
    },
    'the look for the next ready job': {
      statement: statements.nextReadyAt,
      state: 'finished',
      values: () => [],
      rows: 1,
    },
    'a lease renewal': {
      statement: statements.renew,
      state: 'leased',
      values: (job) => [Date.now() + hour, job.seq, Number(job.token)],
      rows: 1,
    },
    'a read of jobs by id': {
      statement: statements.getMany,
      state: 'finished',
      values: (job) => [integerArrayLiteral([job.seq]), false],
      rows: 1,
    },
    'a look-up by idempotency key': {
      statement: statements.byIdempotencyKey,
      state: 'finished',
      values: () => [['k7'], 0],
      rows: 1,
    },
  };

  for (const [name, { statement, state, values, rows }] of Object.entries(cases))
    it(`${name} reads by an index after calls on an empty queue`, async () => {
      const counted = await withRawClient(async (client) => {
        await client.query(`SET search_path TO "${schema}"`);
        const absent = { seq: '1', token: '1' };
        for (let n = 0; n < 8; n++) await client.query({ ...statement, values: values(absent) });
        await fill(client, state);
        const job = await oneJob(client);
        return readsDuring(client, schema, 'queue_jobs', async () => {
          const result = await client.query({ ...statement, values: values(job) });
          expect(result.rows).toHaveLength(rows);
        });
      });
      expect(counted.seqScans).toBe(0);
      expect(counted.rowsRead).toBeLessThanOrEqual(2);
    });
});
