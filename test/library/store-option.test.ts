import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openEngine } from '../../src/library/engine.js';

describe('openEngine(): the store option', () => {
  // Where a store URL of another scheme would land, taken as a SQLite path.
  const stray = join(process.cwd(), 'mysql:');
  afterEach(() => rmSync(stray, { recursive: true, force: true }));

  it('refuses a URL of a store it does not have, creating no SQLite file named after it', async () => {
    await expect(openEngine({ store: 'mysql://app:secret@db.example/jobs' })).rejects.toThrow(
      /option "store" must be 'memory', a postgres:\/\/ URL or a SQLite file path; received 'mysql:\/\/app:secret@db.example\/jobs'/,
    );
    expect(existsSync(stray)).toBe(false);
  });
});
