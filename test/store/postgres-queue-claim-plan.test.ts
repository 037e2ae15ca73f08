import type pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  describeOnPostgres,
  dropSchema,
  queueSchemaWithoutAutovacuum,
  readsDuring,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';

// Migration 43: PL/pgSQL keeps a statement's plan after five calls, and a backend whose first claims
// found the queue empty kept plans that read every job ever kept on each later claim.
describeOnPostgres('Postgres queue claims keep index plans made on an empty queue', () => {
  let schema = '';
  beforeEach(async () => {
    schema = uniqueSchema();
    await queueSchemaWithoutAutovacuum(schema);
  });
  afterEach(() => dropSchema(schema));

  const enqueue = (client: pg.Client, count: number, notBefore: number | null) =>
    client.query(
      `SELECT * FROM queue_enqueue_rows($1, (SELECT json_agg(n) FROM generate_series(1, $1) AS n),
         '{t}', '{normal}', '{1}', $2::bigint[], '{3}', '{requeue}', '{NULL}', $3, 100000)`,
      [count, [notBefore], Date.now()],
    );

  /** The sequential scans of queue_jobs that `work` made. */
  const seqScans = async (client: pg.Client, work: () => Promise<unknown>) =>
    (await readsDuring(client, schema, 'queue_jobs', work)).seqScans;

  it('claims by the ready index and the rows’ addresses after claims that found nothing', async () => {
    const scans = await withRawClient(async (client) => {
      await client.query(`SET search_path TO "${schema}"`);
      for (let n = 0; n < 8; n++) await client.query(`SELECT queue_claim_leases(0, 500, 'w', 1, NULL)`);
      await enqueue(client, 2000, null);
      return seqScans(client, async () => {
        const { rows } = await client.query<{ leases: unknown[][] }>(
          `SELECT queue_claim_leases($1, 100, 'w', $2, NULL) AS leases`,
          [Date.now(), Date.now() + 60_000],
        );
        expect(rows[0]?.leases[0]).toHaveLength(100);
      });
    });
    expect(scans).toBe(0);
  });

  it('finds the earliest delayed job by the ready index after claims that found nothing', async () => {
    const scans = await withRawClient(async (client) => {
      await client.query(`SET search_path TO "${schema}"`);
      const claim = `SELECT leases, ready_at::text FROM queue_claim_or_wait_leases($1, 500, 'w', $2, NULL, 1, 60000, false)`;
      for (let n = 0; n < 8; n++) await client.query(claim, [Date.now(), Date.now() + 60_000]);
      const later = Date.now() + 3_600_000;
      await enqueue(client, 2000, later);
      return seqScans(client, async () => {
        const { rows } = await client.query(claim, [Date.now(), Date.now() + 60_000]);
        expect(rows[0]).toEqual({ leases: null, ready_at: String(later) });
      });
    });
    expect(scans).toBe(0);
  });
});
