import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.js';
import { startUpload } from './streamed-upload.js';

/** Resolves once `check` holds, polled every 10 ms (for what another side of a socket does). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('a bundle upload arriving when the server starts to shut down', () => {
  it('is taken whole and answered within the drain, not cut off with the connection', async () => {
    const { server, dir } = await startTestServer({ drainTimeoutMs: 10_000 });
    const body = Buffer.alloc(256 * 1024, 'b');
    const sha256 = createHash('sha256').update(body).digest('hex');
    const bundles = join(dir, 'bundles');
    const { request: upload, answer } = startUpload(server.url, sha256, body.length);
    upload.write(body.subarray(0, 1024));
    // The upload has begun on the server: its temporary file is there.
    await until(
      () => existsSync(bundles) && readdirSync(bundles).some((name) => name.startsWith('.upload-')),
    );

    const closed = server.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    upload.end(body.subarray(1024));

    expect(await answer).toBe(201);
    await closed;
    // The bundle stored whole, and no partial upload left (the server's own lock file stays there).
    const names = readdirSync(bundles);
    expect(names).toContain(`${sha256}.tar.gz`);
    expect(names.filter((name) => name.startsWith('.upload-'))).toEqual([]);
  });
});
