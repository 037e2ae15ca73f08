import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStores, stateIgnoreFile } from '../../src/cli/state.js';
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

describe('--db postgres://', () => {
  // Each is refused before connecting: port 1 would otherwise say "connection refused".
  const refusals: [string, string][] = [
    [
      '?schma=x',
      '--db: the Postgres URL has an unknown parameter "schma" (node-postgres would ignore it); known: schema, host,',
    ],
    ['?connect_timeout=5', '--db: the Postgres URL has an unknown parameter "connect_timeout"'],
    ['?schema=a&schema=b', '--db: the Postgres URL gives the parameter schema more than once'],
    [
      '?schema=information_schema',
      '--db: schema: information_schema is a system schema of Postgres; give Valkyrie a schema of its own',
    ],
    ['?schema=pg_catalog', '--db: schema: pg_catalog is a system schema of Postgres'],
    ['?schema=Vk', '--db: schema: expected a lowercase identifier'],
  ];
  for (const [query, message] of refusals) {
    it(`refuses ${query} naming the flag, before connecting`, async () => {
      const { dir, remove } = await tempDir();
      try {
        const opening = openStores(`postgres://u:secret@127.0.0.1:1/ci${query}`, dir, { create: false });
        await expect(opening).rejects.toMatchObject({ name: 'UsageError', exitCode: 2 });
        await expect(opening).rejects.toThrow(message);
      } finally {
        await remove();
      }
    });
  }

  it('names VALKYRIE_DB when the URL came from there', async () => {
    const saved = process.env.VALKYRIE_DB;
    const { dir, remove } = await tempDir();
    try {
      process.env.VALKYRIE_DB = 'postgres://127.0.0.1:1/ci?schema=x&schma=x';
      await expect(openStores(undefined, dir)).rejects.toThrow(
        'VALKYRIE_DB: the Postgres URL has an unknown parameter "schma"',
      );
    } finally {
      if (saved === undefined) delete process.env.VALKYRIE_DB;
      else process.env.VALKYRIE_DB = saved;
      await remove();
    }
  });
});

describe("the state directory's .gitignore", () => {
  it('is written with the database, ignoring its files but not workflows/', async () => {
    const { dir, remove } = await tempDir();
    try {
      const stateDir = join(dir, '.valkyrie');
      const stores = await openStores(undefined, stateDir);
      await stores.close();
      expect(readFileSync(join(stateDir, '.gitignore'), 'utf8')).toBe(stateIgnoreFile);
    } finally {
      await remove();
    }
  });

  it("leaves a user's own .gitignore there as it is", async () => {
    const { dir, remove } = await tempDir();
    try {
      writeFileSync(join(dir, '.gitignore'), 'mine\n');
      const stores = await openStores(undefined, dir);
      await stores.close();
      expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('mine\n');
    } finally {
      await remove();
    }
  });

  it('is not written in the working directory (--state-dir .) or a directory above it, nor beside .git', async () => {
    const { dir, remove } = await tempDir();
    const cwd = process.cwd();
    try {
      const sub = join(dir, 'sub');
      const repo = join(dir, 'repo');
      mkdirSync(sub);
      mkdirSync(join(repo, '.git'), { recursive: true });
      process.chdir(sub);
      for (const stateDir of [sub, dir]) {
        const stores = await openStores(undefined, stateDir);
        await stores.close();
        expect(existsSync(join(stateDir, '.gitignore'))).toBe(false);
      }
      process.chdir(cwd);
      const stores = await openStores(undefined, repo);
      await stores.close();
      expect(existsSync(join(repo, '.gitignore'))).toBe(false);
    } finally {
      process.chdir(cwd);
      await remove();
    }
  });
});
