import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import type { Lease } from '../../src/store/queue.js';
import {
  describeOnPostgres,
  dropSchema,
  postgresUrl,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';

describeOnPostgres('Postgres enqueue, visible before its flush', () => {
  let schema = '';
  let holder: pg.Client | undefined;
  beforeEach(() => {
    schema = uniqueSchema();
  });
  afterEach(async () => {
    await holder?.end();
    holder = undefined;
    await dropSchema(schema);
  });

  const open = () => openPostgresStores(postgresUrl, { schema });

  /** Holds, in an open transaction, the rows the enqueue's flushing write updates (slots -16 to -1). */
  async function holdFlushRows(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: postgresUrl });
    client.on('error', () => {});
    await client.connect();
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO "${schema}".queue_counts (slot, queued) SELECT -s, 0 FROM generate_series(1, 16) AS s
       ON CONFLICT (slot) DO UPDATE SET queued = 0`,
    );
    return client;
  }

  it('lets another store claim an unkeyed job before the enqueue is acknowledged, which waits for a synchronous commit', async () => {
    await using producer = await open();
    await using consumer = await open();
    holder = await holdFlushRows();

    let acknowledged = false;
    const enqueued = producer.queue.enqueue([{ task: 't', payload: { n: 1 } }]).then((results) => {
      acknowledged = true;
      return results;
    });
    // The claim commits synchronously, and the WAL is flushed in order: the job is durable once leased.
    const leases: Lease[] = [];
    const deadline = AbortSignal.timeout(5000);
    while (leases.length === 0 && !deadline.aborted) {
      leases.push(...(await consumer.queue.claim({ worker: 'w', limit: 1, ttlMs: 60_000 })));
      if (leases.length === 0) await consumer.queue.waitForWork(deadline);
    }
    expect(leases.map((lease) => lease.payload)).toEqual([{ n: 1 }]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(acknowledged).toBe(false);

    await holder.query('COMMIT');
    const results = await enqueued;
    expect(results.map((result) => [result.kind, result.job.id])).toEqual([['created', leases[0]?.jobId]]);
    // The rows that flush count nothing: the capacity check still sees no queued job.
    const { rows } = await withRawClient((client) =>
      client.query<{ n: number }>(`SELECT sum(queued)::int AS n FROM "${schema}".queue_counts`),
    );
    expect(rows[0]?.n).toBe(0);
  });

  it('does not report stored jobs refused when the flushing write fails once: it writes again', async () => {
    await using producer = await open();
    // The first write to a flush row (slots below 0) fails, as a dropped connection would make it; a
    // sequence counts the tries, since the failing transaction rolls back whatever else it wrote.
    await withRawClient(async (client) => {
      await client.query(`CREATE SEQUENCE "${schema}".flush_tries`);
      await client.query(
        `CREATE FUNCTION "${schema}".fail_flush() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.slot < 0 AND nextval('"${schema}".flush_tries') = 1 THEN
             RAISE EXCEPTION 'flush failed on purpose';
           END IF;
           RETURN NEW;
         END $$`,
      );
      await client.query(
        `CREATE TRIGGER fail_flush BEFORE INSERT OR UPDATE ON "${schema}".queue_counts
         FOR EACH ROW EXECUTE FUNCTION "${schema}".fail_flush()`,
      );
    });
    const [result] = await producer.queue.enqueue([{ task: 't', payload: { n: 2 } }]);
    expect(result?.kind).toBe('created');
    if (result === undefined) return;
    expect(await producer.queue.getJob(result.job.id)).toMatchObject({ state: 'queued', payload: { n: 2 } });
    const { rows } = await withRawClient((client) =>
      client.query<{ tries: string }>(`SELECT last_value AS tries FROM "${schema}".flush_tries`),
    );
    expect(rows[0]?.tries).toBe('2');
  });

  it('acknowledges a keyed enqueue without the flushing write: its commit is synchronous', async () => {
    await using producer = await open();
    holder = await holdFlushRows();
    const results = await producer.queue.enqueue([{ task: 't', payload: {}, idempotencyKey: 'k' }]);
    expect(results.map((result) => result.kind)).toEqual(['created']);
  });
});
