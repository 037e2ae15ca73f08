import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startUpload } from '../server/streamed-upload.js';
import { Workspace } from './cli.js';
import { killAll, type StartedProcess, startServer } from './fleet-processes.js';

/**
 * `valkyrie server --body-timeout` gives up an upload whose client went silent (its connection died
 * without closing it). Runs dist/: `npm run build` first.
 */
const ws = new Workspace();
const processes: StartedProcess[] = [];
afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

const admin = 'stalled-upload-admin';

describe('valkyrie server --body-timeout', () => {
  it('answers 408 to an upload that sends nothing for that long, and keeps none of it', async () => {
    const bundles = join(ws.dir, '.valkyrie/server/bundles');
    const server = await startServer(ws, ['--body-timeout', '1s'], { VALKYRIE_ADMIN_TOKEN: admin });
    processes.push(server);
    const sha256 = createHash('sha256').update('never sent whole').digest('hex');
    const { request: upload, answer } = startUpload(server.url, sha256, 1024 * 1024, admin);
    upload.write(Buffer.alloc(64 * 1024));

    const started = Date.now();
    expect(await Promise.race([answer, new Promise((resolve) => setTimeout(resolve, 10_000, 'none'))])).toBe(
      408,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const partial = () =>
      existsSync(bundles) ? readdirSync(bundles).filter((name) => name.startsWith('.upload-')) : [];
    await expect.poll(partial).toEqual([]);
    upload.destroy();
  });
});
