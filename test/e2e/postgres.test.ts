import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  dropSchema,
  postgresSkipReason,
  postgresUrl,
  uniqueSchema,
  urlWithNewSchema,
  withRawClient,
} from '../store/postgres-server.js';
import { statuses, Workspace } from './cli.js';

const example = resolve(import.meta.dirname, '../../examples/ci.yml');

const server = new URL(postgresUrl);
/** `test on 127.0.0.1:5432`, as messages name the test server's database. */
const where = `${server.pathname.slice(1)} on ${server.hostname}:${server.port || '5432'}`;

/** How many tables and views `schema` holds. */
const schemaTables = (schema: string) =>
  withRawClient(
    async (client) =>
      (await client.query('SELECT 1 FROM information_schema.tables WHERE table_schema = $1', [schema]))
        .rowCount,
  );

describe.skipIf(postgresSkipReason !== undefined)('valkyrie run --db postgres://', () => {
  const ws = new Workspace();
  const { url, schema } = urlWithNewSchema();
  afterAll(async () => {
    ws.dispose();
    await dropSchema(schema);
  });

  it('runs the example on Postgres and reads it back with runs, show and logs', async () => {
    const result = await ws.run(['run', example, '--json', '--db', url]);
    expect(result.code).toBe(0);
    expect(statuses(result.stdout).prepare).toBe('succeeded');
    const runs = await ws.run(['runs'], { VALKYRIE_DB: url });
    expect(runs.stdout).toMatch(/^1\s+succeeded\s+.*ci #1$/m);
    const logs = await ws.run(['logs', '1', 'prepare', '--db', url]);
    expect(logs.stdout).toContain('the release token is ***');
  });

  it('refuses, in the commands about existing runs, a schema that does not exist, creating nothing', async () => {
    const { url: typo, schema: missing } = urlWithNewSchema();
    const empty = uniqueSchema();
    await withRawClient((client) => client.query(`CREATE SCHEMA ${empty}`));
    try {
      const commands = [
        ['runs'],
        ['show', '1'],
        ['logs', '1', 'prepare'],
        ['cancel', '1'],
        ['resume', '1'],
        ['rerun', '1'],
      ];
      for (const args of commands) {
        const result = await ws.run([...args, '--db', typo]);
        expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
        expect(result.stderr).toBe(
          `valkyrie: --db: there is no schema ${missing} in Postgres database ${where}\n`,
        );
      }
      const result = await ws.run(['runs'], { VALKYRIE_DB: `${postgresUrl}?schema=${empty}` });
      expect(result).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr).toContain(`VALKYRIE_DB: schema ${empty} of Postgres database ${where}`);
      expect(result.stderr).toContain('holds no Valkyrie state');
      expect(await schemaTables(empty)).toBe(0);
      const created = await withRawClient(
        async (client) =>
          (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [missing])).rowCount,
      );
      expect(created).toBe(0);
    } finally {
      await dropSchema(empty);
      await dropSchema(missing);
    }
  });

  it("refuses Postgres's own schemas in every command, writing nothing there", async () => {
    const before = await schemaTables('information_schema');
    for (const args of [['runs'], ['run', example]]) {
      const result = await ws.run([...args, '--db', `${postgresUrl}?schema=information_schema`]);
      expect(result).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr).toBe(
        'valkyrie: --db: schema: information_schema is a system schema of Postgres; give Valkyrie a schema of its own\n',
      );
    }
    expect(await schemaTables('information_schema')).toBe(before);
  });

  it('reports an unreachable server in one line, exit 69', async () => {
    const result = await ws.run(['runs', '--db', 'postgres://postgres@127.0.0.1:1/test']);
    expect(result.code).toBe(69);
    expect(result.stderr.trim()).toBe(
      'valkyrie: could not connect to Postgres at 127.0.0.1:1 (database test): connection refused (is the server running and listening there?)',
    );
  });
});
