import pg from 'pg';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { GroupCommit } from '../../src/store/postgres/group-commit.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import {
  describeOnPostgres,
  dropSchema,
  postgresUrl,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';

/** Resolves once another backend waits for a lock `holder`'s transaction holds. */
async function blockedBy(holder: pg.Client): Promise<void> {
  const { rows } = await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  await withRawClient(async (client) => {
    for (let tries = 0; tries < 500; tries++) {
      const waiting = await client.query(
        'SELECT pid FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid))',
        [rows[0]?.pid],
      );
      if (waiting.rows.length > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('no statement came to wait for the lock');
  });
}

describeOnPostgres('Postgres writes that conflict', () => {
  let schema = '';
  beforeEach(() => {
    schema = uniqueSchema();
  });
  afterEach(() => dropSchema(schema));

  // Renewals ran on the main lane and completions on their own: a batch renewing jobs A and B and one
  // completing B and A locked the rows in opposite orders and deadlocked, and the worker whose
  // completion Postgres ended reported "could not complete queue jobs: deadlock detected".
  it('applies a renewal before a completion requested after it, while the renewal waits for a lock', async () => {
    await using stores = await openPostgresStores(postgresUrl, { schema });
    const { queue } = stores;
    await queue.enqueue([1, 2].map((i) => ({ task: 't', payload: i })));
    const [first, second] = await queue.claim({ worker: 'w', limit: 2, ttlMs: 60_000 });
    if (first === undefined || second === undefined) throw new Error('nothing claimed');

    await withRawClient(async (holder) => {
      await holder.query('BEGIN');
      await holder.query(`SELECT seq FROM "${schema}".queue_jobs WHERE seq = $1 FOR UPDATE`, [first.jobId]);
      // One batch: its first renewal waits for the holder, the second comes after it.
      const renewals = [queue.renew(first, 60_000), queue.renew(second, 60_000)];
      await blockedBy(holder);
      const completion = queue.complete([{ lease: second, outcome: { kind: 'succeeded', result: 1 } }]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await holder.query('ROLLBACK');
      const settled = await Promise.allSettled([...renewals, completion]);
      expect(settled.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      expect(settled[2]).toMatchObject({ value: [{ kind: 'completed', jobId: second.jobId }] });
    });
    expect(await queue.staleWrites()).toEqual([]);
  });

  it('applies a write again when Postgres ended its transaction to break a deadlock', async () => {
    await withRawClient(async (client) => {
      await client.query(`CREATE SCHEMA "${schema}"`);
      await client.query(`CREATE TABLE "${schema}".cells (id int PRIMARY KEY, writes text[] NOT NULL)`);
      await client.query(`INSERT INTO "${schema}".cells VALUES (1, '{}'), (2, '{}')`);
    });
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 });
    const commits = new GroupCommit(pool);
    const append = `UPDATE "${schema}".cells SET writes = writes || $2::text WHERE id = ANY ($1::int[])`;
    try {
      await withRawClient(async (other) => {
        // The group commit's connection checks for the deadlock first (its deadlock_timeout is the
        // server's default, 1 s), so Postgres ends its transaction, not this one.
        await other.query("SET deadlock_timeout = '20s'");
        await other.query('BEGIN');
        await other.query(append, [[2], 'other']);
        // One statement, in autocommit: it locks cell 1, then waits for cell 2.
        const write = commits.write('write both cells', (query) =>
          query({ name: '', text: append }, [[1, 2], 'write']),
        );
        await blockedBy(other);
        await other.query(append, [[1], 'other']);
        await other.query('COMMIT');
        await write;
      });
      const { rows } = await pool.query(`SELECT id, writes FROM "${schema}".cells ORDER BY id`);
      expect(rows).toEqual([
        { id: 1, writes: ['other', 'write'] },
        { id: 2, writes: ['other', 'write'] },
      ]);
    } finally {
      await pool.end();
    }
  });
});
