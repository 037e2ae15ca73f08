import { existsSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeOnPostgres, dropSchema, urlWithNewSchema } from '../store/postgres-server.js';
import { type CliResult, Workspace } from './cli.js';
import {
  callApi,
  killAll,
  type StartedProcess,
  type StartedServer,
  startProcess,
  startServer,
} from './fleet-processes.js';

/**
 * Replicas are for Postgres: a second `valkyrie server` on a SQLite file that a live one serves is
 * refused at start (it would take runs whose bundles are in the first one's data directory, and
 * neither knows the other's runners), while `valkyrie run` still shares the file; so is one on another
 * SQLite file that keeps its bundles in the same data directory (each one's bundle retention would
 * remove bundles the other's runs need), while Postgres replicas share a data directory as before. The
 * locks die with their server: one killed with SIGKILL does not hold the next start up.
 */
const admin = 'vkt-e2e-one-server-admin-0123456789';
const env = { VALKYRIE_ADMIN_TOKEN: admin };
const ws = new Workspace();
const processes: StartedProcess[] = [];

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

/**
 * A start meant to be refused; one that serves instead (no refusal) is stopped after a few seconds,
 * so that the test fails on its exit code rather than hang.
 */
async function refusedStart(args: readonly string[]): Promise<CliResult> {
  const started = startProcess(ws, ['server', '--port', '0', ...args], env);
  processes.push(started);
  const timer = setTimeout(() => started.child.kill('SIGKILL'), 5000);
  return await started.done.finally(() => clearTimeout(timer));
}

describe('one valkyrie server per SQLite file', () => {
  it('refuses a second server on the file with one line and exit 69, and a SIGKILLed one blocks no start', async () => {
    const first = await startServer(ws, [], env);
    processes.push(first);
    const db = join(ws.dir, '.valkyrie', 'server', 'valkyrie.db');

    symlinkSync(join(ws.dir, '.valkyrie', 'server'), join(ws.dir, 'linked'));
    // The same data directory, by its name and through a link, and the same file through --db from another.
    for (const args of [
      ['--data-dir', '.valkyrie/server'],
      ['--data-dir', 'linked'],
      ['--data-dir', 'elsewhere', '--db', db],
    ]) {
      const second = await refusedStart(args);
      expect(second.code, second.stderr).toBe(69);
      expect(second.stdout).toBe('');
      expect(second.stderr).toBe(
        `valkyrie: the state database ${db} is in use by another valkyrie server (pid ${first.child.pid}, ` +
          `since ${second.stderr.match(/since (\S+)\)/)?.[1]}): one SQLite file serves one server. Stop that ` +
          'server first, or give this one its own --db or --data-dir; to run several servers for one fleet, ' +
          `use Postgres (--db postgres://…; docs/replicas.md) (lock: ${db}-server.lock)\n`,
      );
    }
    // Refused before it made anything: not even its own data directory.
    expect(existsSync(join(ws.dir, 'elsewhere'))).toBe(false);

    // A local run on the server's file still works beside it, as it did.
    ws.write(
      'local.yml',
      'name: local\non: push\njobs:\n  x:\n    runs-on: local\n    steps:\n      - run: echo beside the server\n',
    );
    const local = await ws.run(['run', 'local.yml', '--db', db]);
    expect(local.code, local.stderr).toBe(0);

    const queued = await callApi(first.url, admin, 'POST', '/api/v1/runs', {
      workflow: 'name: waits\njobs:\n  x: { runs-on: nobody-yet, steps: [{ run: "true" }] }\n',
    });
    expect(queued.status).toBe(201);
    const { run } = (await queued.json()) as { run: { id: string } };

    first.child.kill('SIGKILL');
    await first.done;
    // At once, with no stale lock to wait out: the next server starts and has the first one's run.
    const next = await startServer(ws, [], env);
    processes.push(next);
    const view = await callApi(next.url, admin, 'GET', `/api/v1/runs/${run.id}`);
    expect(view.status).toBe(200);
    // …and holds the file in turn.
    const third = await refusedStart(['--data-dir', '.valkyrie/server']);
    expect(third.code, third.stderr).toBe(69);
    expect(third.stderr).toContain(`in use by another valkyrie server (pid ${next.child.pid}, since `);

    next.child.kill('SIGTERM');
    expect((await next.done).code).toBe(0);
  });

  it('refuses a second server on another SQLite file in the same data directory, and a SIGKILLed one blocks no start', async () => {
    const first = await startServer(ws, ['--data-dir', 'shared', '--db', 'first.db'], env);
    processes.push(first);
    const dataDir = join(ws.dir, 'shared');
    for (const args of [
      ['--data-dir', 'shared', '--db', 'second.db'],
      // Through a link to the data directory, with its default file there (another SQLite file).
      ['--data-dir', 'linked-shared'],
    ]) {
      if (args[1] === 'linked-shared') symlinkSync(dataDir, join(ws.dir, 'linked-shared'));
      const shownDir = join(ws.dir, args[1] ?? '');
      const second = await refusedStart(args);
      expect(second.code, second.stderr).toBe(69);
      expect(second.stdout).toBe('');
      expect(second.stderr).toBe(
        `valkyrie: the data directory ${shownDir} is in use by another valkyrie server (pid ${first.child.pid}, ` +
          `since ${second.stderr.match(/since (\S+)\)/)?.[1]}), which keeps its workspace bundles there: one ` +
          "data directory serves one SQLite server, as each one's bundle retention would remove bundles the " +
          "other's runs still need. Give this one its own --data-dir; to run several servers for one fleet, " +
          'use Postgres (--db postgres://…; docs/replicas.md), which keeps bundles in the database ' +
          `(lock: ${shownDir}/bundles/server.lock)\n`,
      );
    }
    // Refused before it made anything: neither its state file nor that file's lock.
    expect(existsSync(join(ws.dir, 'second.db'))).toBe(false);
    expect(existsSync(join(ws.dir, 'second.db-server.lock'))).toBe(false);
    expect(existsSync(join(dataDir, 'valkyrie.db'))).toBe(false);
    expect(existsSync(join(dataDir, 'valkyrie.db-server.lock'))).toBe(false);

    // With a data directory of its own, a server on another file starts beside it.
    const own = await startServer(ws, ['--data-dir', 'own', '--db', 'second.db'], env);
    processes.push(own);

    first.child.kill('SIGKILL');
    await first.done;
    const next = await startServer(ws, ['--data-dir', 'shared', '--db', 'second-after.db'], env);
    processes.push(next);
    for (const server of [own, next]) {
      server.child.kill('SIGTERM');
      expect((await server.done).code).toBe(0);
    }
  });

  describeOnPostgres('on Postgres', () => {
    const { url, schema } = urlWithNewSchema();
    afterAll(() => dropSchema(schema));

    it('starts replicas on one database that share a data directory, whose bundles are in the database', async () => {
      const replicas: StartedServer[] = [];
      for (let replica = 0; replica < 2; replica++) {
        const started = await startServer(ws, ['--data-dir', 'replicas', '--db', url], env);
        processes.push(started);
        replicas.push(started);
      }
      for (const replica of replicas) {
        replica.child.kill('SIGTERM');
        expect((await replica.done).code).toBe(0);
      }
    });
  });
});
