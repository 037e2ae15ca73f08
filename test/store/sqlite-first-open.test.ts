import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteDatabase } from '../../src/store/sqlite/open.js';

/**
 * Another process starting to write the new file: it says `held` once it holds its write lock, and
 * lets go after `ms`.
 */
function writerHolding(path: string, ms: number) {
  const script = `
    const db = new (require('better-sqlite3'))(process.argv[1]);
    db.exec('BEGIN IMMEDIATE');
    process.stdout.write('held\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, Number(process.argv[2]));
  `;
  return spawn(process.execPath, ['-e', script, path, String(ms)], { cwd: process.cwd() });
}

describe('opening a new SQLite state file that another process is opening too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vk-first-open-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Two `valkyrie run`s started together on a fresh state directory: switching the file to WAL while
  // the other holds the write lock, SQLite answers BUSY at once rather than through the busy timeout.
  it("waits for the other process's lock, within the busy timeout, and opens the file in WAL mode", async () => {
    const path = join(dir, 'fresh.db');
    const writer = writerHolding(path, 300);
    const [held] = await once(writer.stdout, 'data');
    expect(String(held)).toBe('held\n');
    const started = performance.now();
    const db = openSqliteDatabase(path, { busyTimeoutMs: 5_000 });
    try {
      expect(performance.now() - started).toBeGreaterThan(100);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
      await once(writer, 'exit');
    }
  });

  it('still gives up after the busy timeout, naming the lock', async () => {
    const path = join(dir, 'held-long.db');
    const writer = writerHolding(path, 2_000);
    await once(writer.stdout, 'data');
    const started = performance.now();
    try {
      expect(() => openSqliteDatabase(path, { busyTimeoutMs: 200 })).toThrow(
        /another process kept .*held-long\.db locked for longer than the busy timeout, 200 ms/,
      );
      expect(performance.now() - started).toBeGreaterThan(150);
    } finally {
      writer.kill();
      await once(writer, 'exit');
    }
  });
});
