import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { logsCommand, runsCommand, showCommand } from '../../src/cli/commands/history.js';
import { ValkyrieServer } from '../../src/server/server.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import type { Stores } from '../../src/store/store.js';
import { serveAndRecordFetches } from './served-stores.js';

const adminToken = 'server-runs-admin';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A SQLite store in a directory of its own, removed after the test. */
async function tempStores(): Promise<{ dir: string; db: string; stores: Stores }> {
  const dir = await mkdtemp(join(tmpdir(), 'valkyrie-server-runs-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const db = join(dir, 'valkyrie.db');
  return { dir, db, stores: openSqliteStores(db) };
}

/** A server on `stores`, destroyed after the test. */
async function serve(stores: Stores, dir: string): Promise<ValkyrieServer> {
  const server = await ValkyrieServer.start({ stores, host: '127.0.0.1', port: 0, dataDir: dir, adminToken });
  cleanups.push(async () => {
    await server.destroy();
  });
  return server;
}

/** A server on a SQLite store of its own, destroyed after the test. */
async function startServer(): Promise<ValkyrieServer> {
  const { dir, stores } = await tempStores();
  return serve(stores, dir);
}

/** Submits `workflow` through the API; its run's id. */
async function submitRun(url: string, workflow: string): Promise<string> {
  const created = await fetch(`${url}/api/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ workflow }),
  });
  return ((await created.json()) as { run: { id: string } }).run.id;
}

describe('valkyrie runs --server', () => {
  it('lists more runs than one page of the API holds, newest first, each once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'valkyrie-server-runs-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const stores = openSqliteStores(join(dir, 'valkyrie.db'));
    // Straight into the store: 1,203 submissions through the API would take far longer.
    const ids: string[] = [];
    for (let i = 0; i < 1_203; i++)
      ids.push(
        (await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt: 1 })).id,
      );
    const { server, requests } = await serveAndRecordFetches(stores, dir, adminToken, cleanups);
    let printed = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed += String(chunk);
      return true;
    });
    const exit = await runsCommand({ server: server.url, token: adminToken, limit: '1202', json: true });
    vi.mocked(process.stdout.write).mockRestore();
    expect(exit).toBe(0);
    const listed = (JSON.parse(printed) as { id: string }[]).map((run) => run.id);
    expect(listed).toEqual(ids.slice(1).reverse());
    // Pages of 500, 500 and the 202 still wanted.
    expect(requests.map((url) => url.searchParams.get('limit'))).toEqual(['500', '500', '202']);
  });
});

describe('valkyrie show --server', () => {
  it("gives a run's duration from its start, leaving out its wait for its concurrency group", async () => {
    const { dir, stores } = await tempStores();
    // A run that waited 44 s for its group (the control plane stores its start at admission), then ran 1 s.
    const createdAt = Date.UTC(2026, 10, 30, 1, 2, 3);
    const { id } = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt });
    await stores.runs.updateRun(id, { status: 'running', startedAt: createdAt + 44_000 });
    await stores.runs.updateRun(id, { status: 'succeeded', finishedAt: createdAt + 45_000 });
    const server = await serve(stores, dir);
    let printed = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed += String(chunk);
      return true;
    });
    const text = await showCommand(id, { server: server.url, token: adminToken });
    const json = await showCommand(id, { server: server.url, token: adminToken, json: true });
    vi.mocked(process.stdout.write).mockRestore();
    expect([text, json]).toEqual([0, 0]);
    const lines = printed.split('\n');
    expect(lines[0]).toBe(`Run ${id} of ci (#1): succeeded 1.0s`);
    const shown = lines.find((line) => line.startsWith('{'));
    expect(JSON.parse(shown ?? '')).toMatchObject({ createdAt, startedAt: createdAt + 44_000 });
  });
});

describe('valkyrie show, locally and with --server', () => {
  it('gives no duration to a run that never started, and one from its submission to a view without startedAt', async () => {
    const { dir, db, stores } = await tempStores();
    const createdAt = Date.UTC(2026, 10, 30, 1, 2, 3);
    // Replaced in its concurrency group after a 44 s wait: it never started, so it ran for no time.
    const replaced = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt });
    await stores.runs.recordConcurrency(replaced.id, { group: 'prod', state: 'replaced', at: createdAt });
    await stores.runs.updateRun(replaced.id, { status: 'cancelled', finishedAt: createdAt + 44_000 });
    // Neither startedAt nor a group, as a server from before startedAt sent every run: it started when submitted.
    const older = await stores.runs.createRun({ workflowName: 'ci', workflowPath: 'ci.yml', createdAt });
    await stores.runs.updateRun(older.id, { status: 'succeeded', finishedAt: createdAt + 2_000 });
    const server = await serve(stores, dir);
    let printed = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed += String(chunk);
      return true;
    });
    const headings: string[] = [];
    for (const flags of [{ server: server.url, token: adminToken }, { db }])
      for (const id of [replaced.id, older.id]) {
        printed = '';
        expect(await showCommand(id, flags)).toBe(0);
        headings.push(printed.split('\n')[0] ?? '');
      }
    vi.mocked(process.stdout.write).mockRestore();
    const expected = [
      `Run ${replaced.id} of ci (#1): cancelled`,
      `Run ${older.id} of ci (#2): succeeded 2.0s`,
    ];
    expect(headings).toEqual([...expected, ...expected]);
  });
});

describe('valkyrie logs --server', () => {
  it('says why a job waiting for a runner or skipped has no log, and that a running run has more to come', async () => {
    const server = await startServer();
    const workflow =
      'jobs:\n  gpu:\n    runs-on: [self-hosted, gpu]\n    steps:\n      - run: echo hi\n' +
      '  never:\n    if: false\n    runs-on: linux\n    steps:\n      - run: echo no\n';
    const run = { id: await submitRun(server.url, workflow) };
    let said = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      said += String(chunk);
      return true;
    });
    const exit = await logsCommand(run.id, 'gpu', { server: server.url, token: adminToken });
    // From the environment, as the next command will read it too.
    vi.stubEnv('VALKYRIE_SERVER', server.url);
    vi.stubEnv('VALKYRIE_TOKEN', adminToken);
    const skipped = await logsCommand(run.id, 'never', {});
    vi.unstubAllEnvs();
    vi.mocked(process.stderr.write).mockRestore();
    expect([exit, skipped]).toEqual([0, 0]);
    const soFar = `valkyrie: run ${run.id} is running: these are its lines so far; follow them with: valkyrie logs ${run.id}`;
    expect(said).toBe(
      'valkyrie: job "gpu" has not started yet (queued): waiting for a runner with the labels self-hosted, gpu: no connected runner has them all\n' +
        // Given as flags, the server is in the hint: without it, the hint read the local store.
        `${soFar} gpu -f --server ${server.url} --token TOKEN\n` +
        'valkyrie: job "never" was skipped: it ran no step, so it has no log\n' +
        `${soFar} never -f\n`,
    );
  });
  it('says why a job cancelled before it started has no log, rather than print nothing', async () => {
    const server = await startServer();
    const workflow = 'jobs:\n  gpu:\n    runs-on: [self-hosted, gpu]\n    steps:\n      - run: echo hi\n';
    const id = await submitRun(server.url, workflow);
    const cancel = await fetch(`${server.url}/api/v1/runs/${id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'not needed' }),
    });
    expect(cancel.status).toBeLessThan(300);
    for (let wait = 0; wait < 200; wait++) {
      const view = await fetch(`${server.url}/api/v1/runs/${id}`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      if (((await view.json()) as { run: { status: string } }).run.status === 'cancelled') break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    let said = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      said += String(chunk);
      return true;
    });
    const exit = await logsCommand(id, 'gpu', { server: server.url, token: adminToken });
    vi.mocked(process.stderr.write).mockRestore();
    expect(exit).toBe(0);
    expect(said).toBe(
      'valkyrie: job "gpu" was cancelled before it started (cancelled by a cancel request (not needed)): it ran no step, so it has no log\n',
    );
  });
});

describe('valkyrie show and runs --server: a run waiting for its concurrency group', () => {
  it('says which group it waits for and how many are ahead, as a local run does', async () => {
    const server = await startServer();
    // The first run holds the group: its job waits for a runner no one has.
    const workflow =
      'name: deploy\nconcurrency: prod\njobs:\n  ship:\n    runs-on: [self-hosted, nobody]\n    steps:\n      - run: echo hi\n';
    await submitRun(server.url, workflow);
    const second = await submitRun(server.url, workflow);
    let printed = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed += String(chunk);
      return true;
    });
    const flags = { server: server.url, token: adminToken };
    const exits = [await showCommand(second, flags), await runsCommand(flags)];
    vi.mocked(process.stdout.write).mockRestore();
    expect(exits).toEqual([0, 0]);
    expect(printed).toContain(
      // With the server given as a flag, the hint names it: without, it would cancel a local run.
      `  waiting for concurrency group prod (1 ahead); valkyrie cancel ${second} --server ${server.url} --token TOKEN gives up its place\n`,
    );
    expect(printed).toMatch(/deploy #2 \(waiting for concurrency group prod\)/);
  });
});
