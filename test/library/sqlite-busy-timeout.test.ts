import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openEngine } from '../../src/library/engine.js';
import { fixture, openTestEngine } from './helpers.js';

describe('Engine on SQLite: the busy timeout', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vk-busy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("waits busyTimeoutMs for another connection's write lock, then refuses the job, naming the lock", async () => {
    const path = join(dir, 'locked.db');
    const { engine } = await openTestEngine({ store: { kind: 'sqlite', path, busyTimeoutMs: 50 } });
    const echo = engine.task('echo', { module: fixture() });
    const holder = new Database(path);
    holder.exec('BEGIN IMMEDIATE');
    try {
      const started = performance.now();
      const outcome = await engine.enqueue(echo, 'x').result;
      // The default 5 s, twice (the fused write, then the enqueue alone), would take 10 s.
      expect(performance.now() - started).toBeLessThan(3_000);
      expect(outcome).toMatchObject({ kind: 'cancelled', reason: expect.stringMatching(/locked/) });
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    await expect(engine.enqueue(echo, 'y').result).resolves.toMatchObject({ kind: 'succeeded', output: 'y' });
  });

  it('refuses a busy timeout that is not a number ≥ 0, before opening anything', async () => {
    const path = join(dir, 'never.db');
    await expect(openEngine({ store: { kind: 'sqlite', path, busyTimeoutMs: -1 } })).rejects.toThrow(
      /option "store"\.busyTimeoutMs must be a number ≥ 0; received -1/,
    );
  });
});
