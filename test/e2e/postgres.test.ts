import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dropSchema, postgresSkipReason, urlWithNewSchema } from '../store/postgres-server.js';
import { statuses, Workspace } from './cli.js';

const example = resolve(import.meta.dirname, '../../examples/ci.yml');

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

  it('reports an unreachable server in one line, exit 69', async () => {
    const result = await ws.run(['runs', '--db', 'postgres://postgres@127.0.0.1:1/test']);
    expect(result.code).toBe(69);
    expect(result.stderr.trim()).toBe(
      'valkyrie: could not connect to Postgres at 127.0.0.1:1 (database test): connection refused (is the server running and listening there?)',
    );
  });
});
