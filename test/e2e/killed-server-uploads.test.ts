import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startUpload } from '../server/streamed-upload.js';
import { Workspace } from './cli.js';
import { killAll, type StartedProcess, startServer } from './fleet-processes.js';

/**
 * A `valkyrie server` SIGKILLed mid-upload leaves the upload's temporary file in its bundle directory;
 * the next server on that data directory removes it before it listens, not a bundle retention (7 days)
 * later. Runs dist/: `npm run build` first.
 */
const ws = new Workspace();
const processes: StartedProcess[] = [];
afterAll(async () => {
  await killAll(processes);
  ws.dispose();
});

const admin = 'killed-server-uploads-admin';

function partialUploads(bundles: string): string[] {
  return existsSync(bundles) ? readdirSync(bundles).filter((name) => name.startsWith('.upload-')) : [];
}

describe('a server killed mid-upload', () => {
  it("leaves a partial upload that the next server's start removes", async () => {
    const bundles = join(ws.dir, '.valkyrie/server/bundles');
    const first = await startServer(ws, [], { VALKYRIE_ADMIN_TOKEN: admin });
    processes.push(first);
    const sha256 = createHash('sha256').update('never sent whole').digest('hex');
    const { request: upload } = startUpload(first.url, sha256, 1024 * 1024, admin);
    upload.write(Buffer.alloc(64 * 1024));
    while (partialUploads(bundles).length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    first.child.kill('SIGKILL');
    await first.done;
    upload.destroy();
    expect(partialUploads(bundles)).toHaveLength(1);

    const next = await startServer(ws, [], { VALKYRIE_ADMIN_TOKEN: admin });
    processes.push(next);
    // Its URL is printed once it listens, after the removal.
    expect(partialUploads(bundles)).toEqual([]);
    await expect
      .poll(() => next.stderr())
      .toMatch(
        /removed 1 partial bundle upload \(\d+ bytes\) that a server stopped mid-upload left in the data directory/,
      );
  });
});
