import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { schemaVersion as postgresSchemaVersion } from '../../src/store/postgres/migrations.js';
import { Database } from '../../src/store/sqlite/driver.js';
import { schemaVersion as sqliteSchemaVersion } from '../../src/store/sqlite/migrations.js';
import {
  describeOnPostgres,
  dropSchema,
  postgresUrl,
  urlWithNewSchema,
  withRawClient,
} from '../store/postgres-server.js';
import { type CliResult, collect, statuses, Workspace } from './cli.js';
import { waitFor } from './process-state.js';
import { holdWriteLock } from './sqlite-write-lock.js';

// Each fault ends the command with one line on stderr (no stack trace), a documented exit code
// (docs/faults.md), and the state exactly as it was: no run submitted, no job started.

const workflow = `name: touch
jobs:
  touch:
    runs-on: ubuntu-latest
    steps:
      - run: echo ran >> ran.txt
`;

/** Job a waits for a file `go` on its first attempt only, then prints six lines; b needs a. */
const gatedMid = `name: mid
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: |
          if [ ! -e started ]; then touch started; while [ ! -e go ]; do sleep 0.05; done; fi
          for i in 1 2 3 4 5 6; do echo line $i; sleep 0.1; done
  b:
    needs: a
    runs-on: ubuntu-latest
    steps: [{ run: echo b-done }]
`;

/** Resumes run `id` of `ws`; it must end succeeded, with every line of job a's last attempt stored. */
async function expectResumedWhole(ws: Workspace, id: string, db: string[] = []): Promise<void> {
  const resumed = await ws.run(['resume', id, '--json', ...db]);
  expect(resumed.code).toBe(0);
  expect(statuses(resumed.stdout)).toEqual({ a: 'succeeded', b: 'succeeded' });
  const logs = (await ws.run(['logs', id, ...db])).stdout;
  const lastAttempt = logs.slice(logs.lastIndexOf('job attempt'));
  for (let i = 1; i <= 6; i++) expect(lastAttempt).toContain(`line ${i}\n`);
  expect(logs).toContain('b-done');
}

function expectOneLine(result: CliResult, code: number, ...fragments: string[]): void {
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code, stdout: '' });
  expect(result.stderr).toMatch(/^valkyrie: [^\n]+\n$/);
  for (const fragment of fragments) expect(result.stderr).toContain(fragment);
}

/** A workspace whose state file already holds one finished run. */
async function workspaceWithOneRun(): Promise<{ ws: Workspace; file: string; state: string }> {
  const ws = new Workspace();
  const file = ws.write('touch.yml', workflow);
  const first = await ws.run(['run', file, '--json']);
  expect(first.code).toBe(0);
  return { ws, file, state: join(ws.dir, '.valkyrie', 'valkyrie.db') };
}

async function runNumbers(ws: Workspace): Promise<number[]> {
  const result = await ws.run(['runs', '--json']);
  expect(result.code).toBe(0);
  return (JSON.parse(result.stdout) as { runNumber: number }[]).map((run) => run.runNumber);
}

describe('a SQLite state file that cannot be used', () => {
  const workspaces: Workspace[] = [];
  afterAll(() => {
    for (const ws of workspaces) ws.dispose();
  });

  it('garbage bytes: refused at once, exit 65, the file untouched', async () => {
    const ws = new Workspace();
    workspaces.push(ws);
    const file = ws.write('touch.yml', workflow);
    mkdirSync(join(ws.dir, '.valkyrie'));
    const state = ws.write('.valkyrie/valkyrie.db', randomBytes(16_384).toString('binary'));
    const before = readFileSync(state);
    for (const args of [['run', file], ['runs']]) {
      const result = await ws.run(args);
      expectOneLine(result, 65, state, 'is not a SQLite database, or is damaged', 'Restore it from a backup');
    }
    expect(readFileSync(state)).toEqual(before);
    expect(readdirSync(join(ws.dir, '.valkyrie'))).toEqual(['valkyrie.db']);
    expect(existsSync(join(ws.dir, 'ran.txt'))).toBe(false);
  });

  it('a damaged page: the write that meets it fails, exit 65, nothing of the run written', async () => {
    const { ws, file, state } = await workspaceWithOneRun();
    workspaces.push(ws);
    // Page 2 onwards: the header still says SQLite, the tables behind it are garbage.
    const fd = openSync(state, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xde), 0, 4096, 4096);
    closeSync(fd);
    const before = readFileSync(state);
    const result = await ws.run(['run', file]);
    expectOneLine(result, 65, state, 'is damaged', 'nothing of this was written');
    expect(readFileSync(state)).toEqual(before);
    expect(readFileSync(join(ws.dir, 'ran.txt'), 'utf8')).toBe('ran\n');
  });

  it('a schema from a newer Valkyrie: refused naming both versions, exit 65, the file untouched', async () => {
    const { ws, file, state } = await workspaceWithOneRun();
    workspaces.push(ws);
    const newer = sqliteSchemaVersion + 3;
    const db = new Database(state);
    db.pragma(`user_version = ${newer}`);
    db.close();
    const before = readFileSync(state);
    for (const args of [['run', file], ['runs']]) {
      const result = await ws.run(args);
      expectOneLine(result, 65, state, `schema version ${newer}`, `knows up to ${sqliteSchemaVersion}`);
    }
    expect(readFileSync(state)).toEqual(before);
    expect(readFileSync(join(ws.dir, 'ran.txt'), 'utf8')).toBe('ran\n');
  });

  it('locked past the busy timeout: exit 69 naming the file and the wait, nothing written', async () => {
    const { ws, file, state } = await workspaceWithOneRun();
    workspaces.push(ws);
    const lock = await holdWriteLock(state);
    let result: CliResult;
    try {
      result = await ws.run(['run', file], { VALKYRIE_SQLITE_BUSY_TIMEOUT: '300ms' });
    } finally {
      await lock.release();
    }
    expectOneLine(result, 69, `kept ${state} locked`, '300 ms', 'nothing of this was written');
    expect(await runNumbers(ws)).toEqual([1]);
    expect(readFileSync(join(ws.dir, 'ran.txt'), 'utf8')).toBe('ran\n');
  });

  it('locked for less than the busy timeout: the run waits for the lock, then succeeds', async () => {
    const { ws, file, state } = await workspaceWithOneRun();
    workspaces.push(ws);
    await holdWriteLock(state, 700);
    const started = Date.now();
    const result = await ws.run(['run', file, '--json']);
    expect(result.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(await runNumbers(ws)).toEqual([2, 1]);
    expect(readFileSync(join(ws.dir, 'ran.txt'), 'utf8')).toBe('ran\nran\n');
  });

  it('locked in the middle of a run: exit 69, the run left interrupted, and resume finishes it', async () => {
    const { ws, state } = await workspaceWithOneRun();
    workspaces.push(ws);
    const file = ws.write(
      'gated.yml',
      `name: gated
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: |
          touch started
          while [ ! -e go ]; do sleep 0.05; done
          echo a-done
  b:
    needs: a
    runs-on: ubuntu-latest
    steps: [{ run: echo b-done }]
`,
    );
    const run = collect(ws.start(['run', file], { VALKYRIE_SQLITE_BUSY_TIMEOUT: '300ms' }));
    await waitFor(() => existsSync(join(ws.dir, 'started')), 20_000, 'job a to start');
    const lock = await holdWriteLock(state);
    let result: CliResult;
    try {
      ws.write('go', '');
      result = await run;
    } finally {
      await lock.release();
    }
    expect(result.code).toBe(69);
    expect(result.stderr).toMatch(/^valkyrie: could not [^\n]+: another process kept [^\n]+ locked[^\n]+\n$/);
    const show = await ws.run(['show', '2']);
    expect(show.stdout).toContain('interrupted');
    const resumed = await ws.run(['resume', '2', '--json']);
    expect(resumed.code).toBe(0);
    expect(statuses(resumed.stdout)).toEqual({ a: 'succeeded', b: 'succeeded' });
  });

  it('locked for a while in the middle of a run: nothing after the failed write is stored, resume finishes it', async () => {
    // The lock goes away while the run could still go on: no later write (job a's end, job b, the
    // run's end) may land after the one that failed, and resume must find every line of its attempt.
    const { ws, state } = await workspaceWithOneRun();
    workspaces.push(ws);
    const file = ws.write('mid.yml', gatedMid);
    const run = collect(ws.start(['run', file], { VALKYRIE_SQLITE_BUSY_TIMEOUT: '300ms' }));
    await waitFor(() => existsSync(join(ws.dir, 'started')), 20_000, 'job a to start');
    const lock = await holdWriteLock(state);
    ws.write('go', '');
    const released = new Promise((resolve) => setTimeout(resolve, 1_000)).then(() => lock.release());
    const result = await run;
    await released;
    const [second] = JSON.parse((await ws.run(['runs', '--json'])).stdout) as { status: string }[];
    expect(second).toMatchObject({ status: 'running', interrupted: true });
    expect(result.code).toBe(69);
    expect(result.stderr).toMatch(
      /^valkyrie: could not [^\n]+: another process kept [^\n]+ locked [^\n]+ Run 2 was left interrupted: try again with `valkyrie resume 2`\.\n$/,
    );
    await expectResumedWhole(ws, '2');
  });

  it('a busy timeout that is not a duration is a usage error', async () => {
    const ws = new Workspace();
    workspaces.push(ws);
    const result = await ws.run(['runs'], { VALKYRIE_SQLITE_BUSY_TIMEOUT: 'soon' });
    expectOneLine(result, 2, 'VALKYRIE_SQLITE_BUSY_TIMEOUT: expected a duration');
  });
});

describe('a Postgres server that cannot be reached', () => {
  it('fails fast with one line and exit 69, writing no local state', async () => {
    const ws = new Workspace();
    try {
      const file = ws.write('touch.yml', workflow);
      const started = Date.now();
      const result = await ws.run(['run', file, '--db', 'postgres://127.0.0.1:1/x']);
      expect(Date.now() - started).toBeLessThan(5000);
      expectOneLine(
        result,
        69,
        'could not connect to Postgres at 127.0.0.1:1 (database x): connection refused',
      );
      expect(existsSync(join(ws.dir, '.valkyrie', 'valkyrie.db'))).toBe(false);
      expect(existsSync(join(ws.dir, 'ran.txt'))).toBe(false);
    } finally {
      ws.dispose();
    }
  });
});

const onServer = 'a Postgres database that cannot be used';
describeOnPostgres(onServer, () => {
  const ws = new Workspace();
  const { url, schema } = urlWithNewSchema();
  afterAll(async () => {
    ws.dispose();
    await dropSchema(schema);
  });

  it('a database the server does not have: exit 2 (the URL needs fixing)', async () => {
    const missing = new URL(postgresUrl);
    missing.pathname = '/vk_no_such_database';
    const result = await ws.run(['runs', '--db', missing.href]);
    expectOneLine(result, 2, 'could not connect to Postgres', 'vk_no_such_database');
  });

  it('a schema from a newer Valkyrie: refused naming both versions, exit 65, nothing written', async () => {
    const file = ws.write('touch.yml', workflow);
    expect((await ws.run(['run', file, '--db', url])).code).toBe(0);
    const newer = postgresSchemaVersion + 3;
    const snapshot = () =>
      withRawClient(async (client) => {
        const runs = await client.query(`SELECT id, status FROM "${schema}".runs ORDER BY id`);
        const jobs = await client.query(`SELECT count(*)::int AS n FROM "${schema}".jobs`);
        const version = await client.query(`SELECT version FROM "${schema}".valkyrie_schema`);
        return { runs: runs.rows, jobs: jobs.rows, version: version.rows };
      });
    await withRawClient((client) =>
      client.query(`UPDATE "${schema}".valkyrie_schema SET version = ${newer}`),
    );
    const before = await snapshot();
    expect(before.version).toEqual([{ version: newer }]);
    for (const args of [['run', file], ['runs']]) {
      const result = await ws.run([...args, '--db', url]);
      expectOneLine(result, 65, schema, `schema version ${newer}`, `knows up to ${postgresSchemaVersion}`);
    }
    expect(await snapshot()).toEqual(before);
    expect(readFileSync(join(ws.dir, 'ran.txt'), 'utf8')).toBe('ran\n');
  });
});

describeOnPostgres('a Postgres connection lost in the middle of a run', () => {
  const { url, schema } = urlWithNewSchema();
  afterAll(() => dropSchema(schema));

  it('exit 69, the run left interrupted with nothing after the failed write, and resume finishes it', async () => {
    const ws = new Workspace();
    try {
      const file = ws.write('mid.yml', gatedMid);
      const run = collect(ws.start(['run', file, '--db', url]));
      await waitFor(() => existsSync(join(ws.dir, 'started')), 20_000, 'job a to start');
      // The server ends the session that stores line 3, once, as a restart or a failover would.
      await withRawClient((client) =>
        client.query(`
          CREATE SEQUENCE "${schema}".fault_once;
          CREATE FUNCTION "${schema}".drop_session() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            -- nextval, unlike a row, is not rolled back with the session's transaction.
            IF NEW.text = 'line 3' AND nextval('"${schema}".fault_once') = 1 THEN
              PERFORM pg_terminate_backend(pg_backend_pid());
            END IF;
            RETURN NEW;
          END $$;
          CREATE TRIGGER drop_session BEFORE INSERT ON "${schema}".log_lines
            FOR EACH ROW EXECUTE FUNCTION "${schema}".drop_session();`),
      );
      ws.write('go', '');
      const result = await run;
      const db = ['--db', url];
      const [first] = JSON.parse((await ws.run(['runs', '--json', ...db])).stdout) as { status: string }[];
      expect(first).toMatchObject({ status: 'running', interrupted: true });
      expect(result.code).toBe(69);
      expect(result.stderr).toMatch(
        /^valkyrie: could not append log lines: lost the connection to Postgres \(terminating connection [^\n]+valkyrie resume[^\n]+\n$/,
      );
      await expectResumedWhole(ws, '1', db);
    } finally {
      ws.dispose();
    }
  });
});
