import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Workspace } from './cli.js';
import { FakeApiServer } from './fake-api-server.js';

/**
 * `submit` asks the server whether it takes bundles from this token before it packs the workspace.
 * It packed first: a workspace of 250 MiB took 34 s to pack on a busy 2-core machine before a wrong
 * --server was told (exit 69), and 43 s before a refused token was (exit 77). Here the pack would
 * fail at once (the workspace is over --max-bundle-size), so which of the two is told shows which
 * came first.
 */
const workflow = 'name: ci\njobs:\n  build:\n    runs-on: self-hosted\n    steps:\n      - run: echo hi\n';
/** The bundle the check asks for: none has the sha256 of no bytes. */
const noBytesSha256 = createHash('sha256').digest('hex');
const ws = new Workspace();
let server: FakeApiServer;

beforeAll(async () => {
  ws.write('ci.yml', workflow);
  ws.write('data.bin', 'x'.repeat(3000));
  server = await new FakeApiServer().start();
});
afterAll(async () => {
  await server.close();
  ws.dispose();
});

const submit = (url: string, token: string) =>
  ws.run(['submit', 'ci.yml', '--server', url, '--token', token, '--max-bundle-size', '2KiB']);

describe('submit asks the server before it packs the workspace', () => {
  it('tells a refused token (exit 77) before packing, uploading nothing', async () => {
    const result = await submit(server.url, 'wrong');
    expect(result.stderr).toContain('valkyrie: the server refused (HTTP 401): VK_UNAUTHORIZED');
    expect(result.stderr).not.toContain('over the bundle limit');
    expect(result.code).toBe(77);
    // The HEAD's 401 has no body: submit asks once more, read-only, for the server's reason.
    expect(server.calls()).toEqual([`HEAD /api/v1/bundles/${noBytesSha256}`, 'GET /api/v1/runs?limit=1']);
  });

  it('tells a server that cannot be reached (exit 69) before packing', async () => {
    const gone = await new FakeApiServer().start();
    await gone.close();
    const result = await submit(gone.url, 'tok');
    expect(result.stderr).toBe(
      `valkyrie: cannot reach the Valkyrie server at ${gone.url}: connection refused (ECONNREFUSED)\n`,
    );
    expect(result.code).toBe(69);
  });

  it('packs once the server takes the token, and refuses the workspace over the limit, uploading nothing', async () => {
    const before = server.calls().length;
    const result = await submit(server.url, 'tok');
    expect(result.stderr).toMatch(/over the bundle limit of 2\.0 KiB .*; nothing was uploaded/);
    expect(result.code).toBe(2);
    expect(
      server
        .calls()
        .slice(before)
        .filter((call) => !call.startsWith('HEAD ')),
    ).toEqual([]);
  });
});
