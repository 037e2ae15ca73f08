import { afterEach, beforeEach, expect, it } from 'vitest';
import type { PostgresDatabase } from '../../src/store/postgres/database.js';
import { openPostgresDatabase } from '../../src/store/postgres/open.js';
import {
  describeOnPostgres,
  dropSchema,
  postgresUrl,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';

const insert = { name: 'test_insert_counter', text: 'INSERT INTO run_counters VALUES ($1, 1)' };
const broken = { name: 'test_broken', text: 'SELECT 1 / 0' };

describeOnPostgres('Postgres transactional writes', () => {
  let schema = '';
  let db: PostgresDatabase | undefined;
  beforeEach(async () => {
    schema = uniqueSchema();
    db = await openPostgresDatabase(postgresUrl, { schema });
  });
  afterEach(async () => {
    await db?.close();
    await dropSchema(schema);
  });
  const counters = () =>
    withRawClient(async (client) =>
      (await client.query(`SELECT workflow_name FROM "${schema}".run_counters ORDER BY 1`)).rows.map(
        (row: { workflow_name: string }) => row.workflow_name,
      ),
    );

  it('rolls back every statement of a transactional write that fails, alone or in a batch', async () => {
    if (!db) throw new Error('no database');
    const failing = (name: string) =>
      db?.transaction('fail', async (query) => {
        await query(insert, [name]);
        await query(broken, []);
      });
    await expect(failing('alone')).rejects.toMatchObject({ code: 'VK_STORE' });
    const batch = await Promise.allSettled([
      db.write('plain', async (query) => void (await query(insert, ['before']))),
      failing('batched'),
      db.transaction('ok', async (query) => {
        await query(insert, ['both-1']);
        await query(insert, ['both-2']);
      }),
    ]);
    expect(batch.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await counters()).toEqual(['before', 'both-1', 'both-2']);
  });
});
