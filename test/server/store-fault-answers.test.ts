import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { holdWriteLock } from '../e2e/sqlite-write-lock.js';
import { startTestServer } from './helpers.js';

// A request the store fails (Postgres gone, a SQLite file kept locked or on a full disk) is no bug of
// the server: it answers 503 VK_STORE with the store's reason, as /readyz does, not 500 "the server
// failed unexpectedly", and the client says what is wrong (exit 69).

describe('a request the store fails', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('is answered 503 VK_STORE with what the store said, here a SQLite file another process keeps locked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'valkyrie-store-fault-'));
    dirs.push(dir);
    const file = join(dir, 'valkyrie.db');
    const { request } = await startTestServer({ stores: openSqliteStores(file, { busyTimeoutMs: 100 }) });
    const lock = await holdWriteLock(file);
    try {
      const answer = await request('POST', '/api/v1/tokens', { body: { role: 'read' } });
      expect(answer).toMatchObject({
        status: 503,
        headers: { 'x-valkyrie-error': 'VK_STORE', 'retry-after': '5' },
        body: {
          code: 'VK_STORE',
          message: expect.stringMatching(
            new RegExp(
              `^could not [^:]+: another process kept ${file} locked for longer than the busy timeout, 100 ms; nothing of this was written\\.`,
            ),
          ),
        },
      });
    } finally {
      await lock.release();
    }
    expect((await request('POST', '/api/v1/tokens', { body: { role: 'read' } })).status).toBe(201);
  });
});
