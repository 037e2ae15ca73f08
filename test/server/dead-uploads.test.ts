import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServerOptions, ValkyrieServer } from '../../src/server/server.js';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { adminToken } from './helpers.js';
import { startUpload } from './streamed-upload.js';

/**
 * The temporary file of an upload that its server's death cut off (SIGKILL, or the drain deadline)
 * is removed when a server next starts on the data directory, not a bundle retention later; an
 * upload still arriving on a running server keeps its file, even when a second server tries to start.
 */
const dirs: string[] = [];
const servers: ValkyrieServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.destroy();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function start(dataDir: string, options: Partial<ServerOptions> = {}): Promise<ValkyrieServer> {
  const server = await ValkyrieServer.start({
    stores: openSqliteStores(join(dataDir, 'valkyrie.db')),
    host: '127.0.0.1',
    port: 0,
    dataDir,
    adminToken,
    ...options,
  });
  servers.push(server);
  return server;
}

function partialUploads(bundles: string): string[] {
  return readdirSync(bundles).filter((name) => name.startsWith('.upload-'));
}

describe('partial bundle uploads', () => {
  it('are removed at start, before the port listens, and stored bundles are kept', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'valkyrie-dead-uploads-'));
    dirs.push(dataDir);
    const bundles = join(dataDir, 'bundles');
    mkdirSync(bundles);
    // Written just now, as by a server killed a moment ago: the retention would keep them 7 days.
    writeFileSync(join(bundles, '.upload-0123456789abcdef'), Buffer.alloc(1024 * 1024));
    writeFileSync(join(bundles, '.upload-fedcba9876543210'), Buffer.alloc(10));
    const stored = Buffer.from('a stored bundle');
    const sha256 = createHash('sha256').update(stored).digest('hex');
    writeFileSync(join(bundles, `${sha256}.tar.gz`), stored);
    const notices: string[] = [];
    await start(dataDir, { logNotice: (line) => notices.push(line) });
    expect(partialUploads(bundles)).toEqual([]);
    expect(existsSync(join(bundles, `${sha256}.tar.gz`))).toBe(true);
    expect(notices).toContain(
      'removed 2 partial bundle uploads (1048586 bytes) that a server stopped mid-upload left in the data directory',
    );
  });

  it("are not another running server's: a second server refused on the directory leaves its upload whole", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'valkyrie-dead-uploads-'));
    dirs.push(dataDir);
    const bundles = join(dataDir, 'bundles');
    const first = await start(dataDir);
    const body = Buffer.alloc(64 * 1024, 'u');
    const sha256 = createHash('sha256').update(body).digest('hex');
    const { request: upload, answer } = startUpload(first.url, sha256, body.length);
    upload.write(body.subarray(0, 1024));
    while (!existsSync(bundles) || partialUploads(bundles).length === 0)
      await new Promise((resolve) => setTimeout(resolve, 10));

    // Another state file, the same data directory: refused on the bundle directory's lock.
    const second = ValkyrieServer.start({
      stores: openSqliteStores(join(dataDir, 'other.db')),
      host: '127.0.0.1',
      port: 0,
      dataDir,
      adminToken,
    });
    await expect(second).rejects.toMatchObject({ code: 'VK_STORE_IN_USE' });
    expect(partialUploads(bundles)).toHaveLength(1);

    upload.end(body.subarray(1024));
    expect(await answer).toBe(201);
    expect(readdirSync(bundles)).toContain(`${sha256}.tar.gz`);
    expect(partialUploads(bundles)).toEqual([]);
  });
});
