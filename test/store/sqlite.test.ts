import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { asRunId, jobIdFor } from '../../src/core/ids.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { migrations, schemaVersion } from '../../src/store/sqlite/migrations.js';
import { openSqliteDatabase } from '../../src/store/sqlite/open.js';
import type { Stores } from '../../src/store/store.js';
import { tempDir } from './factories.js';

let dir = '';
let removeDir = async () => {};
beforeEach(async () => {
  ({ dir, remove: removeDir } = await tempDir());
});
afterEach(() => removeDir());

const newRun = { workflowName: 'ci', workflowPath: '.valkyrie/ci.yml', createdAt: 1 };

/** Runs `use` on stores opened at `path` and closes them whatever happens. */
async function withStores<T>(path: string, use: (stores: Stores) => Promise<T>): Promise<T> {
  await using stores = openSqliteStores(path);
  // Awaited here, so the stores close after `use` settles rather than when it returns its promise.
  return await use(stores);
}

/** Opens a plain connection, outside Valkyrie, to set a file up or inspect it. */
function withRawDb<T>(path: string, use: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return use(db);
  } finally {
    db.close();
  }
}

function expectRefusal(path: string, code: string, ...fragments: string[]): void {
  let caught: unknown;
  try {
    void openSqliteStores(path).close();
  } catch (error) {
    caught = error;
  }
  expect(caught).toMatchObject({ name: 'ValkyrieError', code });
  const message = caught instanceof Error ? caught.message : '';
  for (const fragment of fragments) expect(message).toContain(fragment);
}

describe('openSqliteStores', () => {
  it('migrates a file from before retries, keeping its steps and log lines as first attempts', async () => {
    const path = join(dir, 'state.db');
    withRawDb(path, (db) => {
      db.exec(migrations[0] ?? '');
      db.pragma('user_version = 1');
      db.exec(`INSERT INTO runs (id, workflow_name, workflow_path, run_number, status, created_at)
               VALUES (1, 'ci', 'ci.yml', 1, 'succeeded', 1);
               INSERT INTO jobs (id, run_id, key, name, matrix, status) VALUES ('1.1', 1, 'a', 'a', '{}', 'succeeded');
               INSERT INTO steps (job_id, idx, name, outcome) VALUES ('1.1', 0, 'build', 'success');
               INSERT INTO log_lines (run_id, job_id, step_index, stream, at, text)
               VALUES (1, '1.1', 0, 'stdout', 5, 'hello');`);
    });
    await withStores(path, async (stores) => {
      const jobId = jobIdFor(asRunId('1'), 1);
      expect(await stores.runs.listSteps(jobId)).toEqual([
        { jobId, index: 0, name: 'build', outcome: 'success' },
      ]);
      expect(await stores.logs.read(asRunId('1'))).toEqual([
        { runId: '1', jobId, stepIndex: 0, stream: 'stdout', at: 5, text: 'hello' },
      ]);
      expect(await stores.runs.listJobAttempts(jobId)).toEqual([]);
      await stores.runs.recordStep({ jobId, index: 0, attempt: 2, name: 'build' });
      expect(await stores.runs.listSteps(jobId)).toHaveLength(2);
    });
    expect(withRawDb(path, (db) => db.pragma('user_version', { simple: true }))).toBe(schemaVersion);
  });

  it('keeps runs, jobs, steps and logs across a reopen, and continues run numbers', async () => {
    const path = join(dir, 'state.db');
    const first = await withStores(path, async (stores) => {
      const run = await stores.runs.createRun({ ...newRun, sha: 'abc' });
      await stores.runs.addJobs([
        { id: jobIdFor(run.id, 0), runId: run.id, key: 'a', name: 'a', matrix: { n: 1 }, status: 'queued' },
      ]);
      await stores.runs.updateJob(jobIdFor(run.id, 0), { status: 'running', outputs: { x: 'y' } });
      await stores.runs.recordStep({ jobId: jobIdFor(run.id, 0), index: 0, name: 'build', exitCode: 0 });
      await stores.logs.append([
        { runId: run.id, jobId: jobIdFor(run.id, 0), stepIndex: 0, stream: 'stdout', at: 5, text: 'hi' },
      ]);
      return run;
    });
    await withStores(path, async (stores) => {
      expect(await stores.runs.getRun(first.id)).toEqual(first);
      expect(await stores.runs.listJobs(first.id)).toMatchObject([
        { matrix: { n: 1 }, status: 'running', outputs: { x: 'y' } },
      ]);
      expect(await stores.runs.listSteps(jobIdFor(first.id, 0))).toEqual([
        { jobId: jobIdFor(first.id, 0), index: 0, name: 'build', exitCode: 0 },
      ]);
      expect((await stores.logs.read(first.id)).map((line) => line.text)).toEqual(['hi']);
      expect((await stores.runs.createRun(newRun)).runNumber).toBe(2);
    });
  });

  it('migrates once: reopening leaves the schema and its version as they were', async () => {
    const path = join(dir, 'state.db');
    const schemaOf = () =>
      withRawDb(path, (db) => ({
        version: db.pragma('user_version', { simple: true }),
        sql: db.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all(),
      }));
    await withStores(path, async () => {});
    const first = schemaOf();
    expect(first.version).toBe(schemaVersion);
    await withStores(path, async () => {});
    await withStores(path, async () => {});
    expect(schemaOf()).toEqual(first);
  });

  it('creates missing parent directories and uses WAL with NORMAL sync by default, FULL on request', () => {
    const path = join(dir, 'a', 'b', 'state.db');
    const normal = openSqliteDatabase(path);
    const full = openSqliteDatabase(path, { synchronous: 'full' });
    try {
      expect(normal.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(normal.pragma('synchronous', { simple: true })).toBe(1);
      expect(full.pragma('synchronous', { simple: true })).toBe(2);
      expect(normal.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(normal.pragma('busy_timeout', { simple: true })).toBeGreaterThanOrEqual(1000);
    } finally {
      normal.close();
      full.close();
    }
  });

  it('refuses a file written by a newer schema, naming it and both versions, without writing', async () => {
    const path = join(dir, 'state.db');
    await withStores(path, async (stores) => void (await stores.runs.createRun(newRun)));
    withRawDb(path, (db) => db.pragma(`user_version = ${schemaVersion + 5}`));
    const before = await readFile(path);
    const filesBefore = await readdir(dir);
    expectRefusal(path, 'VK_STORE_NEWER_SCHEMA', path, `${schemaVersion + 5}`, `${schemaVersion}`);
    expect(await readFile(path)).toEqual(before);
    expect(await readdir(dir)).toEqual(filesBefore);
  });

  it('refuses a file that is not a database, naming it, without writing', async () => {
    const path = join(dir, 'state.db');
    await writeFile(path, randomBytes(8192));
    const before = await readFile(path);
    expectRefusal(path, 'VK_STORE_CORRUPT', path, 'is not a SQLite database');
    expect(await readFile(path)).toEqual(before);
    expect(await readdir(dir)).toEqual(['state.db']);
  });

  it("refuses another program's SQLite database without adding tables to it", async () => {
    const path = join(dir, 'other.db');
    withRawDb(path, (db) => db.exec('CREATE TABLE notes (body TEXT)'));
    const before = await readFile(path);
    expectRefusal(path, 'VK_STORE', path, 'is not a Valkyrie state database');
    expect(await readFile(path)).toEqual(before);
  });

  it('lets two connections on one file see each other’s writes and share run numbers', async () => {
    const path = join(dir, 'state.db');
    await using first = openSqliteStores(path);
    await using second = openSqliteStores(path);
    const a = await first.runs.createRun(newRun);
    const b = await second.runs.createRun(newRun);
    const c = await first.runs.createRun(newRun);
    expect([a.runNumber, b.runNumber, c.runNumber]).toEqual([1, 2, 3]);
    expect(await second.runs.getRun(a.id)).toEqual(a);
    expect(await first.runs.getRun(b.id)).toEqual(b);
    await second.runs.updateRun(a.id, { status: 'running', startedAt: 7 });
    expect(await first.runs.getRun(a.id)).toMatchObject({ status: 'running', startedAt: 7 });
  });

  it('settles a batch naming a job twice one by one: the first outcome stays, the repeat is stale', async () => {
    await withStores(join(dir, 'state.db'), async ({ queue }) => {
      await queue.enqueue(Array.from({ length: 40 }, (_, i) => ({ task: 't', payload: i })));
      const leases = await queue.claim({ worker: 'w', limit: 40, ttlMs: 10_000 });
      const [first, second] = leases;
      if (first === undefined || second === undefined) throw new Error('no leases');
      // Out of id order, so that the alike completions go by id lists; two jobs come back again.
      const order = [...leases].sort((a, b) => (Number(a.jobId) % 2) - (Number(b.jobId) % 2));
      const results = await queue.complete([
        ...order.map((lease) => ({ lease, outcome: { kind: 'succeeded' } as const })),
        { lease: first, outcome: { kind: 'failed', error: 'again' } },
        { lease: second, outcome: { kind: 'succeeded' } },
      ]);
      expect(results.slice(0, 40).every((result) => result.kind === 'completed')).toBe(true);
      expect(results.slice(40).map((result) => result.kind)).toEqual(['stale', 'stale']);
      expect(await queue.getJob(first.jobId)).toMatchObject({ state: 'succeeded' });
      expect((await queue.staleWrites()).map((write) => write.jobId)).toEqual([first.jobId, second.jobId]);
    });
  });

  it('writes an update made right after the add of its job with the new row, in order with other writes', async () => {
    const path = join(dir, 'state.db');
    await withStores(path, async (stores) => {
      const run = await stores.runs.createRun(newRun);
      // Counts the UPDATEs of job rows that reach the file (a trigger of this test's own).
      withRawDb(path, (db) =>
        db.exec(`CREATE TABLE job_updates (id TEXT);
          CREATE TRIGGER count_job_updates AFTER UPDATE ON jobs BEGIN INSERT INTO job_updates VALUES (new.id); END;`),
      );
      const [a, b] = [jobIdFor(run.id, 0), jobIdFor(run.id, 1)];
      const job = { runId: run.id, key: 'test', matrix: { leg: 1 }, status: 'pending' } as const;
      const writes = [
        stores.runs.addJobs([
          { ...job, id: a, name: 'a' },
          { ...job, id: b, name: 'b' },
        ]),
        stores.runs.updateJob(a, { status: 'queued', queuedAt: 3, priority: 'high' }),
        stores.runs.updateJob(b, { status: 'queued', queuedAt: 4, priority: 'normal', notBefore: 9 }),
        stores.runs.updateJob(a, { status: 'skipped', finishedAt: 5, reason: 'why', outputs: { x: '1' } }),
        // Another write first: this update is not moved before it.
        stores.runs.updateRun(run.id, { status: 'running', startedAt: 2 }),
        stores.runs.updateJob(b, { status: 'running', startedAt: 6 }),
      ];
      await Promise.all(writes);
      expect(await stores.runs.listJobs(run.id)).toEqual([
        {
          ...job,
          id: a,
          name: 'a',
          status: 'skipped',
          queuedAt: 3,
          priority: 'high',
          finishedAt: 5,
          reason: 'why',
          outputs: { x: '1' },
        },
        {
          ...job,
          id: b,
          name: 'b',
          status: 'running',
          queuedAt: 4,
          priority: 'normal',
          notBefore: 9,
          startedAt: 6,
          outputs: {},
        },
      ]);
      const updates = withRawDb(path, (db) => db.prepare('SELECT id FROM job_updates').all());
      expect(updates).toEqual([{ id: b }]);
    });
  });

  it('names the job at fault in a batch of more jobs than one INSERT statement takes, adding none of it', async () => {
    await withStores(join(dir, 'state.db'), async ({ runs }) => {
      const run = await runs.createRun(newRun);
      const job = (ordinal: number, runId = run.id) =>
        ({
          id: jobIdFor(run.id, ordinal),
          runId,
          key: 'a',
          name: 'a',
          matrix: {},
          status: 'pending',
        }) as const;
      await runs.addJobs([job(1000)]);
      // 100 jobs go in statements of 64, 32 and 4 rows: each fault sits past the first statement.
      const batch = Array.from({ length: 100 }, (_, i) => job(i));
      const refusal = (at: number, faulty: ReturnType<typeof job>) =>
        runs.addJobs(batch.with(at, faulty)).catch((caught: unknown) => caught);
      expect(await refusal(70, job(65))).toMatchObject({
        code: 'VK_STORE',
        message: `job ${jobIdFor(run.id, 65)} already exists`,
      });
      expect(await refusal(98, job(1000))).toMatchObject({
        code: 'VK_STORE',
        message: `job ${jobIdFor(run.id, 1000)} already exists`,
      });
      expect(await refusal(80, job(80, asRunId('987654321')))).toMatchObject({
        code: 'VK_RUN_NOT_FOUND',
        message: 'no run with id 987654321',
      });
      // Two faults in one statement: the first in the batch's order is named, whichever SQLite saw.
      const twice = (first: number, second: number) =>
        runs.addJobs(batch.with(first, job(first, asRunId('987654321'))).with(second, job(1000)));
      await expect(twice(70, 80)).rejects.toMatchObject({ code: 'VK_RUN_NOT_FOUND' });
      await expect(twice(80, 70)).rejects.toMatchObject({
        message: `job ${jobIdFor(run.id, 1000)} already exists`,
      });
      const malformed = batch.with(90, job(90, asRunId('abc'))).with(5, job(1000));
      await expect(runs.addJobs(malformed)).rejects.toMatchObject({ code: 'VK_STORE' });
      expect((await runs.listJobs(run.id)).map(({ id }) => id)).toEqual([jobIdFor(run.id, 1000)]);
    });
  });

  it('names the runners a write it could not make was for in good English: 1 runner, 2 runners', async () => {
    const path = join(dir, 'locked.db');
    await using stores = openSqliteStores(path, { busyTimeoutMs: 50 });
    const runner = (id: string) => ({ id, name: id, labels: [], capacity: 1, running: 0, draining: false });
    const db = new Database(path);
    try {
      db.exec('BEGIN EXCLUSIVE');
      await expect(stores.runners.connected('replica', [runner('a')], 1)).rejects.toMatchObject({
        code: 'VK_STORE_LOCKED',
        message: expect.stringMatching(/^could not record 1 connected runner: another process kept /),
      });
      await expect(stores.runners.disconnected('replica', ['a', 'b'], 2)).rejects.toMatchObject({
        message: expect.stringMatching(/^could not record 2 disconnected runners: /),
      });
    } finally {
      db.close();
    }
  });
});
