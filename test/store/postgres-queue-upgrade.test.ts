import type pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { migrations } from '../../src/store/postgres/schema-migrations.js';
import { asQueueJobId } from '../../src/store/queue.js';
import {
  describeOnPostgres,
  dropSchema,
  postgresUrl,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';

const title = 'Postgres queue: the primary key, and batch columns sent once (migrations 34-37)';
/** The schema before migration 34. */
const before = 33;

describeOnPostgres(title, () => {
  let schema = '';
  beforeEach(() => {
    schema = uniqueSchema();
  });
  afterEach(() => dropSchema(schema));

  const open = () => openPostgresStores(postgresUrl, { schema, queue: { capacity: 100 } });

  /** The schema as Valkyrie left it at `version`, the later migrations not applied. */
  const schemaAt = async (client: pg.ClientBase, version: number) => {
    await client.query(`CREATE SCHEMA "${schema}"`);
    await client.query(`SET search_path TO "${schema}"`);
    for (const sql of migrations.slice(0, version)) await client.query(sql);
    await client.query(
      'CREATE TABLE valkyrie_schema (singleton boolean PRIMARY KEY DEFAULT true, version integer NOT NULL)',
    );
    await client.query('INSERT INTO valkyrie_schema (version) VALUES ($1)', [version]);
  };

  it('keeps the jobs of an older schema: a lease taken before completes after, and new ids follow the old', async () => {
    const leased = await withRawClient(async (client) => {
      await schemaAt(client, before);
      await client.query(`SELECT * FROM queue_enqueue('{a,b,c}', '{1,2,3}', '{normal,normal,normal}',
        '{1,2,3}', '{NULL,NULL,NULL}', '{3,3,3}', '{requeue,requeue,requeue}', '{NULL,NULL,NULL}', 1, 100)`);
      const { rows } = await client.query<{ leases: [string[], string[], unknown[], number[], number[]] }>(
        `SELECT queue_claim_columns(1, 1, 'old', 60000000000000, NULL) AS leases`,
      );
      const [ids, , , , tokens] = rows[0]?.leases ?? [[], [], [], [], []];
      return { jobId: asQueueJobId(ids[0] ?? ''), token: tokens[0] ?? 0 };
    });
    await using stores = await open();
    const [done] = await stores.queue.complete([{ lease: leased, outcome: { kind: 'succeeded' } }]);
    expect(done).toEqual({ kind: 'completed', jobId: leased.jobId });
    const leases = await stores.queue.claim({ worker: 'new', limit: 10, ttlMs: 60_000 });
    expect(leases.map((lease) => lease.task)).toEqual(['b', 'c']);
    const created = await stores.queue.enqueue([{ task: 'd', payload: 4 }]);
    expect(created.map((result) => result.job.id)).toEqual([String(Number(leases[1]?.jobId) + 1)]);
    // The primary key stays, its pages splitting 70% free from now on.
    expect(await seqIndexes()).toEqual([
      "CREATE UNIQUE INDEX queue_jobs_pkey ON queue_jobs USING btree (seq) WITH (fillfactor='30')",
    ]);
  });

  const seqIndexes = () =>
    withRawClient(async (client) => {
      // The definition is matched here, not in SQL: there the planner may render every index's
      // definition before the schema filter, and one another test file is dropping cannot be opened.
      const { rows } = await client.query<{ indexdef: string }>(
        `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'queue_jobs'`,
        [schema],
      );
      return rows
        .map((row) => row.indexdef.replace(`"${schema}".`, '').replace(`${schema}.`, ''))
        .filter((indexdef) => indexdef.includes('(seq)'));
    });

  // The first form of migration 34 replaced the primary key by a non-unique index. A table published
  // for logical replication then refused every claim (no replica identity); 37 gives it the key back.
  it('gives the queue its primary key back where the first form of migration 34 had dropped it', async () => {
    // Not migrated to the latest and set back: a later migration would run twice.
    await withRawClient(async (client) => {
      await schemaAt(client, 36);
      await client.query('ALTER TABLE queue_jobs DROP CONSTRAINT queue_jobs_pkey');
      await client.query('CREATE INDEX queue_jobs_seq ON queue_jobs (seq) WITH (fillfactor = 30)');
    });
    await using stores = await open();
    expect(await seqIndexes()).toEqual([
      "CREATE UNIQUE INDEX queue_jobs_pkey ON queue_jobs USING btree (seq) WITH (fillfactor='30')",
    ]);
    const publication = `${schema}_pub`;
    await withRawClient((client) =>
      client.query(`CREATE PUBLICATION "${publication}" FOR TABLE "${schema}".queue_jobs`),
    );
    try {
      await stores.queue.enqueue([{ task: 'replicated', payload: 1 }]);
      const [lease] = await stores.queue.claim({ worker: 'w', limit: 1, ttlMs: 60_000 });
      if (lease === undefined) throw new Error('no lease');
      expect(await stores.queue.complete([{ lease, outcome: { kind: 'succeeded' } }])).toEqual([
        { kind: 'completed', jobId: lease.jobId },
      ]);
    } finally {
      await withRawClient((client) => client.query(`DROP PUBLICATION "${publication}"`));
    }
  });

  it('gives every job a value sent once, and each job its own value sent per job, NULL included', async () => {
    await (await open()).close();
    const rows = await withRawClient(async (client) => {
      await client.query(`SET search_path TO "${schema}"`);
      const { rows: result } = await client.query<{ seqs: string; queued_count: number }>(
        `SELECT seqs::text, queued_count FROM queue_enqueue_rows(3, '[{"i":1},{"i":2},{"i":3}]', '{t}',
           '{high,low,normal}', '{7}', '{NULL}', '{2}', '{fail}', '{NULL,k,NULL}', 5, 100)`,
      );
      expect(result).toEqual([{ seqs: '{1,2,3}', queued_count: 0 }]);
      await expect(
        client.query(`SELECT * FROM queue_enqueue_rows(2, '[1,2,3]', '{t}', '{normal}', '{7}', '{NULL}',
          '{2}', '{fail}', '{NULL}', 5, 100)`),
      ).rejects.toThrow('3 payloads for 2 jobs');
      return (
        await client.query(
          `SELECT seq::int, task, payload::text, priority, queue_key::int, not_before, max_attempts,
             on_lease_expiry, idempotency_key, created_at::int FROM queue_jobs ORDER BY seq`,
        )
      ).rows;
    });
    const shared = { task: 't', queue_key: 7, not_before: null, max_attempts: 2, on_lease_expiry: 'fail' };
    expect(rows).toEqual([
      { seq: 1, payload: '{"i":1}', priority: 'high', idempotency_key: null, created_at: 5, ...shared },
      { seq: 2, payload: '{"i":2}', priority: 'low', idempotency_key: 'k', created_at: 5, ...shared },
      { seq: 3, payload: '{"i":3}', priority: 'normal', idempotency_key: null, created_at: 5, ...shared },
    ]);
  });

  it('completes every job with a state and outcome sent once, or each with its own, and records a stale token', async () => {
    const leases = await (async () => {
      await using stores = await open();
      await stores.queue.enqueue(['a', 'b', 'c', 'd', 'e'].map((task) => ({ task, payload: null })));
      return stores.queue.claim({ worker: 'w', limit: 5, ttlMs: 60_000 });
    })();
    const [a, b, c, d, e] = leases.map((lease) => ({ id: lease.jobId, token: lease.token }));
    if (a === undefined || b === undefined || c === undefined || d === undefined || e === undefined)
      throw new Error('five leases expected');
    const rows = await withRawClient(async (client) => {
      await client.query(`SET search_path TO "${schema}"`);
      const complete = async (ids: string[], tokens: number[], states: string, outcomes: string) =>
        (
          await client.query<{ job_id: string }>(
            'SELECT job_id::text FROM queue_complete_rows($1::bigint[], $2::bigint[], $3::text[], $4::json[], 9)',
            [`{${ids.join(',')}}`, `{${tokens.join(',')}}`, states, outcomes],
          )
        ).rows.map((row) => row.job_id);
      expect(
        await complete([a.id, b.id, c.id], [a.token, b.token, c.token - 1], '{succeeded}', '{NULL}'),
      ).toEqual([c.id]);
      expect(
        await complete(
          [d.id, e.id],
          [d.token, e.token],
          '{failed,succeeded}',
          '{"{\\"kind\\":\\"failed\\"}",NULL}',
        ),
      ).toEqual([]);
      return (
        await client.query('SELECT task, state, outcome::text, finished_at::int FROM queue_jobs ORDER BY seq')
      ).rows;
    });
    expect(rows).toEqual([
      { task: 'a', state: 'succeeded', outcome: null, finished_at: 9 },
      { task: 'b', state: 'succeeded', outcome: null, finished_at: 9 },
      { task: 'c', state: 'leased', outcome: null, finished_at: null },
      { task: 'd', state: 'failed', outcome: '{"kind":"failed"}', finished_at: 9 },
      { task: 'e', state: 'succeeded', outcome: null, finished_at: 9 },
    ]);
  });
});
