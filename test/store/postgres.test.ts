import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jobIdFor } from '../../src/core/ids.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import { schemaVersion } from '../../src/store/postgres/migrations.js';
import { migrations } from '../../src/store/postgres/schema-migrations.js';
import type { Stores } from '../../src/store/store.js';
import {
  describeOnPostgres,
  dropSchema,
  postgresUrl,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';

const newRun = { workflowName: 'ci', workflowPath: '.valkyrie/ci.yml', createdAt: 1 };

/** A port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function openError(url: string, schema?: string): Promise<Error> {
  const opening = openPostgresStores(url, schema === undefined ? {} : { schema });
  const error = await opening.then(
    (stores) => stores.close().then(() => new Error('opened')),
    (caught: unknown) => caught,
  );
  if (!(error instanceof Error)) throw new Error(`expected an Error, received ${String(error)}`);
  return error;
}

describe('openPostgresStores without a server', () => {
  it('reports an unreachable server as VK_STORE_UNREACHABLE on one line naming host:port, never the password', async () => {
    const port = await closedPort();
    const error = await openError(`postgres://valkyrie:hunter2@127.0.0.1:${port}/ci`);
    expect(error).toMatchObject({ name: 'ValkyrieError', code: 'VK_STORE_UNREACHABLE' });
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain('database ci');
    expect(error.message).toContain('connection refused');
    expect(error.message).not.toContain('hunter2');
    expect(error.message).not.toContain('\n');
  });

  it('refuses a schema name that is not a plain lowercase identifier, before connecting', async () => {
    const error = await openError('postgres://127.0.0.1:1/ci', 'Robert"; DROP TABLE runs');
    expect(error).toMatchObject({ code: 'VK_STORE' });
    expect(error.message).toContain('schema: expected a lowercase identifier');
  });

  it('refuses a URL of another scheme without echoing it', async () => {
    const error = await openError('mysql://root:hunter2@127.0.0.1/ci');
    expect(error).toMatchObject({ code: 'VK_STORE' });
    expect(error.message).not.toContain('hunter2');
  });
});

const onServer = 'openPostgresStores on a server';

describeOnPostgres(onServer, () => {
  let schema = '';
  beforeEach(() => {
    schema = uniqueSchema();
  });
  afterEach(() => dropSchema(schema));

  const open = () => openPostgresStores(postgresUrl, { schema });

  /** Runs `use` on stores opened on this test's schema and closes them whatever happens. */
  async function withStores<T>(use: (stores: Stores) => Promise<T>): Promise<T> {
    await using stores = await open();
    return await use(stores);
  }

  /** Every table's columns and indexes, the version and the rows that matter, to compare before/after. */
  function snapshot(): Promise<unknown> {
    return withRawClient(async (client) => {
      const q = async (sql: string) => (await client.query(sql, [schema])).rows;
      return {
        columns: await q(
          `SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
           WHERE table_schema = $1 ORDER BY table_name, ordinal_position`,
        ),
        indexes: await q(
          'SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname',
        ),
        version: await q(`SELECT version, $1::text AS schema FROM "${schema}".valkyrie_schema`),
        runs: await q(`SELECT *, $1::text AS schema FROM "${schema}".runs ORDER BY id`),
      };
    });
  }

  it('keeps runs, jobs, steps and logs across a reopen, and continues run numbers', async () => {
    const first = await withStores(async (stores) => {
      const run = await stores.runs.createRun({ ...newRun, sha: 'abc' });
      const jobId = jobIdFor(run.id, 0);
      await stores.runs.addJobs([
        { id: jobId, runId: run.id, key: 'a', name: 'a', matrix: { n: 1 }, status: 'queued' },
      ]);
      await stores.runs.updateJob(jobId, {
        status: 'running',
        startedAt: 1_700_000_000_123,
        outputs: { x: 'y' },
      });
      await stores.runs.recordStep({ jobId, index: 0, name: 'build', exitCode: 0 });
      await stores.logs.append([{ runId: run.id, jobId, stepIndex: 0, stream: 'stdout', at: 5, text: 'hi' }]);
      return run;
    });
    await withStores(async (stores) => {
      const jobId = jobIdFor(first.id, 0);
      expect(await stores.runs.getRun(first.id)).toEqual(first);
      expect(await stores.runs.listJobs(first.id)).toMatchObject([
        { matrix: { n: 1 }, status: 'running', startedAt: 1_700_000_000_123, outputs: { x: 'y' } },
      ]);
      expect(await stores.runs.listSteps(jobId)).toEqual([{ jobId, index: 0, name: 'build', exitCode: 0 }]);
      expect((await stores.logs.read(first.id)).map((line) => line.text)).toEqual(['hi']);
      expect((await stores.runs.createRun(newRun)).runNumber).toBe(2);
    });
  });

  it('keeps to its schema when the URL carries startup options of its own', async () => {
    const url = new URL(postgresUrl);
    url.searchParams.set('options', '-c statement_timeout=60000');
    await using stores = await openPostgresStores(url.href, { schema });
    const run = await stores.runs.createRun(newRun);
    const rows = await withRawClient(
      async (client) => (await client.query(`SELECT id FROM "${schema}".runs`)).rows,
    );
    expect(rows).toEqual([{ id: String(run.id) }]);
  });

  it('migrates a schema from before retries, keeping its steps and log lines as first attempts', async () => {
    const before = schemaVersion - 1;
    await withRawClient(async (client) => {
      await client.query(`CREATE SCHEMA "${schema}"`);
      await client.query(`SET search_path TO "${schema}"`);
      for (const sql of migrations.slice(0, before)) await client.query(sql);
      await client.query(
        'CREATE TABLE valkyrie_schema (singleton boolean PRIMARY KEY DEFAULT true, version integer NOT NULL)',
      );
      await client.query('INSERT INTO valkyrie_schema (version) VALUES ($1)', [before]);
      await client.query(`INSERT INTO runs (workflow_name, workflow_path, run_number, status, created_at)
                            VALUES ('ci', 'ci.yml', 1, 'succeeded', 1)`);
      await client.query(`INSERT INTO jobs (id, run_id, key, name, matrix, status)
                            SELECT id || '.1', id, 'a', 'a', '{}', 'succeeded' FROM runs`);
      await client.query(
        `INSERT INTO steps (job_id, idx, name, outcome) SELECT id, 0, 'build', 'success' FROM jobs`,
      );
      await client.query(`INSERT INTO log_lines (run_id, job_id, step_index, stream, at, text)
                            SELECT run_id, id, 0, 'stdout', 5, 'hello' FROM jobs`);
    });
    await withStores(async (stores) => {
      const [run] = await stores.runs.listRuns();
      if (!run) throw new Error('the run is gone');
      const jobId = jobIdFor(run.id, 1);
      expect(await stores.runs.listSteps(jobId)).toEqual([
        { jobId, index: 0, name: 'build', outcome: 'success' },
      ]);
      expect(await stores.logs.read(run.id)).toEqual([
        { runId: run.id, jobId, stepIndex: 0, stream: 'stdout', at: 5, text: 'hello' },
      ]);
      await stores.runs.recordStep({ jobId, index: 0, attempt: 2, name: 'build' });
      await stores.runs.recordJobAttempt({ jobId, attempt: 1, status: 'failed', finishedAt: 2 });
      expect(await stores.runs.listSteps(jobId)).toHaveLength(2);
      expect(await stores.runs.listJobAttempts(jobId)).toHaveLength(1);
    });
    expect(await snapshot()).toMatchObject({ version: [{ version: schemaVersion }] });
  });

  it('migrates once: reopening leaves the schema and its version as they were', async () => {
    await withStores(async () => {});
    const first = await snapshot();
    expect(first).toMatchObject({ version: [{ version: schemaVersion }] });
    await withStores(async () => {});
    await withStores(async () => {});
    expect(await snapshot()).toEqual(first);
  });

  it('lets several processes start on a fresh schema at once', async () => {
    const all = await Promise.all([open(), open(), open()]);
    try {
      const runs = await Promise.all(all.map((stores) => stores.runs.createRun(newRun)));
      expect(runs.map((run) => run.runNumber).sort()).toEqual([1, 2, 3]);
    } finally {
      await Promise.all(all.map((stores) => stores.close()));
    }
  });

  it('uses the first schema of the URL’s search_path when no schema is given', async () => {
    const url = new URL(postgresUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    const missing = await openError(url.href);
    expect(missing).toMatchObject({ code: 'VK_STORE' });
    expect(missing.message).toContain('no schema on the search_path');
    await withRawClient((client) => client.query(`CREATE SCHEMA "${schema}"`));
    await using stores = await openPostgresStores(url.href);
    await stores.runs.createRun(newRun);
    expect(await snapshot()).toMatchObject({
      version: [{ version: schemaVersion }],
      runs: [{ run_number: 1 }],
    });
  });

  it('refuses a schema written by a newer Valkyrie, naming the database and both versions, untouched', async () => {
    await withStores(async (stores) => void (await stores.runs.createRun(newRun)));
    const newer = schemaVersion + 5;
    await withRawClient((client) =>
      client.query(`UPDATE "${schema}".valkyrie_schema SET version = ${newer}`),
    );
    const before = await snapshot();
    const error = await openError(postgresUrl, schema);
    expect(error).toMatchObject({ name: 'ValkyrieError', code: 'VK_STORE_NEWER_SCHEMA' });
    const database = new URL(postgresUrl).pathname.slice(1);
    for (const fragment of [`database ${database}`, schema, `version ${newer}`, `up to ${schemaVersion}`]) {
      expect(error.message).toContain(fragment);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('never gives two pools creating runs at once the same run id or (workflow, run number)', async () => {
    await using first = await open();
    await using second = await open();
    const create = (stores: Stores) =>
      Array.from({ length: 50 }, (_, i) =>
        stores.runs.createRun({ ...newRun, workflowName: i % 2 === 0 ? 'ci' : 'nightly' }),
      );
    const created = await Promise.all([...create(first), ...create(second)]);
    expect(new Set(created.map((run) => run.id)).size).toBe(100);
    for (const workflow of ['ci', 'nightly']) {
      const numbers = created.filter((run) => run.workflowName === workflow).map((run) => run.runNumber);
      expect(numbers.sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    }
    expect((await second.runs.listRuns({ limit: 200 })).map((run) => run.id).sort()).toEqual(
      created.map((run) => run.id).sort(),
    );
  });

  it('rejects a job id that already exists with VK_STORE naming it, adding none of the batch', async () => {
    await withStores(async (stores) => {
      const run = await stores.runs.createRun(newRun);
      const job = (ordinal: number) =>
        ({
          id: jobIdFor(run.id, ordinal),
          runId: run.id,
          key: 'a',
          name: 'a',
          matrix: {},
          status: 'queued',
        }) as const;
      await stores.runs.addJobs([job(0)]);
      const error = await stores.runs.addJobs([job(1), job(0)]).catch((caught: unknown) => caught);
      expect(error).toMatchObject({
        code: 'VK_STORE',
        message: `job ${jobIdFor(run.id, 0)} already exists`,
      });
      expect((await stores.runs.listJobs(run.id)).map((listed) => listed.id)).toEqual([jobIdFor(run.id, 0)]);
    });
  });

  it('keeps a matrix’s key order, and stores a line holding NUL with the NUL replaced', async () => {
    await withStores(async (stores) => {
      const run = await stores.runs.createRun(newRun);
      const jobId = jobIdFor(run.id, 0);
      const matrix = { zeta: 1, alpha: 2, mid: { b: 1, a: 2 } };
      await stores.runs.addJobs([
        { id: jobId, runId: run.id, key: 'a', name: 'a', matrix, status: 'running' },
      ]);
      const [job] = await stores.runs.listJobs(run.id);
      expect(JSON.stringify(job?.matrix)).toBe(JSON.stringify(matrix));
      await stores.logs.append([
        { runId: run.id, jobId, stepIndex: 0, stream: 'stdout', at: 1, text: 'a\0b' },
      ]);
      expect((await stores.logs.read(run.id)).map((line) => line.text)).toEqual(['a\uFFFDb']);
    });
  });

  it('lets a read see every write made before it, even writes that take more than one commit', async () => {
    await withStores(async (stores) => {
      const run = await stores.runs.createRun(newRun);
      const jobId = jobIdFor(run.id, 0);
      await stores.runs.addJobs([
        { id: jobId, runId: run.id, key: 'a', name: 'a', matrix: {}, status: 'queued' },
      ]);
      const writes = Array.from({ length: 300 }, (_, i) => stores.runs.updateJob(jobId, { reason: `${i}` }));
      expect(await stores.runs.listJobs(run.id)).toMatchObject([{ reason: '299' }]);
      await Promise.all(writes);
    });
  });

  it('rejects only the writes whose statement fails in a group commit, keeping the order of the rest', async () => {
    await withStores(async (stores) => {
      const run = await stores.runs.createRun(newRun);
      const jobId = jobIdFor(run.id, 0);
      const job = { id: jobId, runId: run.id, key: 'a', name: 'a', matrix: {}, status: 'pending' } as const;
      await stores.runs.addJobs([job]);
      const settled = await Promise.allSettled([
        stores.runs.updateJob(jobId, { status: 'running', reason: 'first' }),
        stores.runs.recordStep({ jobId: jobIdFor(run.id, 7), index: 0, name: 'x' }),
        stores.runs.recordStep({ jobId, index: 0, name: 'build' }),
        stores.runs.addJobs([job]),
        stores.runs.updateJob(jobId, { status: 'failed', reason: 'last' }),
      ]);
      expect(settled.map((result) => (result.status === 'rejected' ? result.reason.code : 'ok'))).toEqual([
        'ok',
        'VK_JOB_NOT_FOUND',
        'ok',
        'VK_STORE',
        'ok',
      ]);
      expect(await stores.runs.listJobs(run.id)).toMatchObject([{ status: 'failed', reason: 'last' }]);
      expect(await stores.runs.listSteps(jobId)).toMatchObject([{ name: 'build' }]);
    });
  });

  it('lets writes in flight finish before close resolves, and refuses new ones', async () => {
    const stores = await open();
    const run = await stores.runs.createRun(newRun);
    const jobId = jobIdFor(run.id, 0);
    await stores.runs.addJobs([
      { id: jobId, runId: run.id, key: 'a', name: 'a', matrix: {}, status: 'running' },
    ]);
    // More than the pool's connections, so some wait in its queue when close() is called.
    const writes = Array.from({ length: 30 }, (_, i) =>
      stores.logs.append([{ runId: run.id, jobId, stepIndex: 0, stream: 'stdout', at: i, text: `${i}` }]),
    );
    await stores.close();
    await expect(Promise.all(writes)).resolves.toHaveLength(30);
    await expect(stores.runs.getRun(run.id)).rejects.toMatchObject({ code: 'VK_STORE' });
    await withStores(async (reopened) => expect(await reopened.logs.read(run.id)).toHaveLength(30));
  });
});
