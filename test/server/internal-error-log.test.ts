import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { startTestServer } from './helpers.js';

afterEach(() => vi.restoreAllMocks());

// `valkyrie server` passes no logError of its own: an API request that fails unexpectedly (a bug) is
// answered "its log has the details", so the server's default log (stderr) must have them.
it('writes an unexpected API failure to stderr when no logError is given', async () => {
  const stores = openSqliteStores(join(await mkdtemp(join(tmpdir(), 'valkyrie-api-bug-')), 'state.db'));
  const live = await startTestServer({ stores });
  const stderr = vi.spyOn(process.stderr, 'write').mockReturnValue(true);
  vi.spyOn(stores.runs, 'getRun').mockRejectedValue(new TypeError('a bug in reading runs'));
  try {
    const answer = await live.request('GET', '/api/v1/runs/r1');
    expect(answer).toMatchObject({ status: 500, body: { code: 'VK_INTERNAL' } });
    expect(stderr.mock.calls.map(([chunk]) => String(chunk)).join('')).toContain(
      'valkyrie server: unexpected error: TypeError: a bug in reading runs',
    );
  } finally {
    await live.server.close();
  }
});
