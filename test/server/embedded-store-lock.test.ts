import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Clock, systemClock } from '../../src/core/clock.js';
import { type ServerOptions, ValkyrieServer } from '../../src/server/server.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { Workspace } from '../e2e/cli.js';
import { killAll, type StartedProcess, startServer } from '../e2e/fleet-processes.js';
import { adminToken, oneJobWorkflow, startTestServer } from './helpers.js';

/**
 * A program that embeds the server (ValkyrieServer.start) gets the refusals `valkyrie server` gets:
 * one server per SQLite file, and per data directory keeping bundles, whether the other server is in
 * the same process or is a `valkyrie server` process. The e2e part runs dist/: `npm run build` first.
 */
const dirs: string[] = [];
const processes: StartedProcess[] = [];
const ws = new Workspace();

afterAll(async () => {
  await killAll(processes);
  ws.dispose();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-embedded-lock-'));
  dirs.push(dir);
  return dir;
}

function start(db: string, dataDir: string, options: Partial<ServerOptions> = {}): Promise<ValkyrieServer> {
  return ValkyrieServer.start({
    stores: openSqliteStores(db),
    host: '127.0.0.1',
    port: 0,
    dataDir,
    adminToken,
    ...options,
  });
}

/** The refusal of a start on `what` ('the state database …' or 'the data directory …') held by `pid`. */
function refusal(what: string, pid: number) {
  return {
    code: 'VK_STORE_IN_USE',
    message: expect.stringMatching(
      new RegExp(`^${escapeRegExp(what)} is in use by another valkyrie server \\(pid ${pid}, since `),
    ),
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('one embedded server per SQLite file and per data directory', () => {
  it('refuses a second server on the file in the same process, and starts one once the first is destroyed', async () => {
    const db = join(newDir(), 'valkyrie.db');
    const first = await start(db, newDir());
    await expect(start(db, newDir())).rejects.toMatchObject(refusal(`the state database ${db}`, process.pid));
    // The first serves on, and destroying it lets the file go.
    expect((await first.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    await first.destroy();
    const next = await start(db, newDir());
    await next.destroy();
  });

  it("refuses a second server on another file in the same data directory, whose sweep would remove the first one's bundles", async () => {
    const first = await startTestServer({ bundleRetentionMs: 60_000, bundleSweepIntervalMs: 20 });
    const bytes = randomBytes(256);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const headers = { 'content-type': 'application/gzip' };
    expect((await first.request('PUT', `/api/v1/bundles/${sha}`, { raw: bytes, headers })).status).toBe(201);
    // No runner: the run stays queued, and its bundle is to be kept however long it waits.
    const submitted = await first.request('POST', '/api/v1/runs', {
      body: { workflow: oneJobWorkflow, bundle: sha },
    });
    expect(submitted.status).toBe(201);

    // Without the refusal, this server's sweep removed the bundle within 20 ms: its clock says the
    // bundle is two minutes unused, and no run of its own names it.
    const later: Clock = { now: () => systemClock.now() + 120_000, setTimer: systemClock.setTimer };
    const second = start(join(newDir(), 'other.db'), first.dir, {
      clock: later,
      bundleRetentionMs: 60_000,
      bundleSweepIntervalMs: 20,
    });
    await expect(second).rejects.toMatchObject(refusal(`the data directory ${first.dir}`, process.pid));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await first.request('HEAD', `/api/v1/bundles/${sha}`)).status).toBe(200);
  });

  it('lets the file go when its start fails', async () => {
    const db = join(newDir(), 'valkyrie.db');
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    if (address === null || typeof address === 'string') throw new Error('a TCP address');
    await expect(start(db, newDir(), { port: address.port })).rejects.toThrow();
    taken.close();
    const next = await start(db, newDir());
    await next.destroy();
  });

  it('refuses to start on the file or the data directory of a `valkyrie server` process, naming its pid, until it is killed', async () => {
    const server = await startServer(ws, [], { VALKYRIE_ADMIN_TOKEN: adminToken });
    processes.push(server);
    const dataDir = join(ws.dir, '.valkyrie', 'server');
    const db = join(dataDir, 'valkyrie.db');
    const pid = server.child.pid ?? 0;
    await expect(start(db, newDir())).rejects.toMatchObject(refusal(`the state database ${db}`, pid));
    await expect(start(join(newDir(), 'other.db'), dataDir)).rejects.toMatchObject(
      refusal(`the data directory ${dataDir}`, pid),
    );
    server.child.kill('SIGKILL');
    await server.done;
    const next = await start(db, dataDir);
    await next.destroy();
  });
});
