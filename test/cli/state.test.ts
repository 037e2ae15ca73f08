import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openStores } from '../../src/cli/state.js';
import { tempDir } from '../store/factories.js';

const saved = process.env.VALKYRIE_SQLITE_SYNCHRONOUS;
afterEach(() => {
  if (saved === undefined) delete process.env.VALKYRIE_SQLITE_SYNCHRONOUS;
  else process.env.VALKYRIE_SQLITE_SYNCHRONOUS = saved;
});

describe('VALKYRIE_SQLITE_SYNCHRONOUS', () => {
  it('accepts normal and full in any case', async () => {
    const { dir, remove } = await tempDir();
    try {
      for (const value of ['full', 'NORMAL']) {
        process.env.VALKYRIE_SQLITE_SYNCHRONOUS = value;
        const stores = await openStores(undefined, dir);
        await stores.close();
      }
    } finally {
      await remove();
    }
  });

  it('refuses anything else, naming the variable and the value, before opening the file', async () => {
    const { dir, remove } = await tempDir();
    try {
      process.env.VALKYRIE_SQLITE_SYNCHRONOUS = 'off';
      const opening = openStores(undefined, dir);
      await expect(opening).rejects.toThrow(
        'VALKYRIE_SQLITE_SYNCHRONOUS: expected normal or full, received "off"',
      );
    } finally {
      await remove();
    }
  });
});

describe('--db', () => {
  it('refuses a URL of another scheme, naming the accepted forms, instead of creating a file named after it', async () => {
    const { dir, remove } = await tempDir();
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      await expect(openStores('mysql://user:secret@db/ci', dir)).rejects.toThrow(
        '--db: "mysql://user:***@db/ci" is a mysql:// URL; expected postgres://USER@HOST/DB[?schema=NAME] (or postgresql://…) or a SQLite file path',
      );
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      process.chdir(cwd);
      await remove();
    }
  });
});
