import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
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

  // Node's recursive mkdir looped for ever there, and openEngine opens SQLite synchronously: the child
  // (plain Node, dist/; `npm test` builds first) has a timeout, so that a regression fails, not hangs.
  it.skipIf(process.platform !== 'linux')(
    'rejects a SQLite path under /proc at once, naming the directory and why',
    () => {
      const library = resolve(import.meta.dirname, '../../dist/index.js');
      const script = `import { openEngine } from ${JSON.stringify(library)};
openEngine({ store: '/proc/valkyrie-test/state.db' }).then(
  (engine) => engine.destroy().then(() => console.log('opened')),
  (error) => console.log(error.code + ': ' + error.message),
);`;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 15_000,
      });
      expect(child.signal).toBeNull();
      expect(child.stdout).toBe(
        'VK_STORE: could not open the state database /proc/valkyrie-test/state.db: cannot create the directory /proc/valkyrie-test: /proc does not allow new directories: mkdir answered ENOENT though it exists, as a kernel file system such as /proc does\n',
      );
    },
  );
});
