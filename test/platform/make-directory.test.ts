import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DirectoryRefusedError,
  makeDirectory,
  makeDirectorySync,
} from '../../src/platform/make-directory.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-mkdir-'));
  dirs.push(dir);
  return dir;
}

/** Node's own recursive mkdir loops for ever under /proc: a regression must fail, not hang the run. */
function withinSeconds<T>(promise: Promise<T>, seconds: number): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`still making the directory after ${seconds} s`)),
        seconds * 1000,
      ).unref(),
    ),
  ]);
}

const onLinux = process.platform === 'linux' && existsSync('/proc/self');

describe.each([
  ['makeDirectorySync', async (path: string, mode?: number) => makeDirectorySync(path, mode)],
  ['makeDirectory', makeDirectory],
] as const)('%s', (_name, make) => {
  it('makes every missing level, with the mode given, and is a no-op for a directory that exists', async () => {
    const base = scratch();
    const path = join(base, 'a', 'b', 'c');
    await make(path, 0o700);
    expect(statSync(path).isDirectory()).toBe(true);
    expect(statSync(join(base, 'a')).mode & 0o777).toBe(0o700);
    await make(path);
    await make(base);
  });

  it('fails as Node does where a file is in the way: EEXIST for the path, ENOTDIR under it', async () => {
    const file = join(scratch(), 'file');
    writeFileSync(file, '');
    await expect(make(file)).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(make(join(file, 'x', 'y'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it.skipIf(!onLinux)('refuses a directory under /proc at once, saying where and why', async () => {
    const refused = await withinSeconds(
      make('/proc/valkyrie-test/state').then(
        () => undefined,
        (error: unknown) => error,
      ),
      10,
    );
    expect(refused).toBeInstanceOf(DirectoryRefusedError);
    expect(refused).toMatchObject({
      code: 'ENOENT',
      path: '/proc/valkyrie-test',
      message:
        'cannot create the directory /proc/valkyrie-test: /proc does not allow new directories: mkdir answered ENOENT though it exists, as a kernel file system such as /proc does',
    });
  });
});

// The synchronous one cannot be stopped in this process if it loops: a child with a timeout runs it
// from dist/ (plain Node; `npm test` builds first).
it.skipIf(!onLinux)(
  'makeDirectorySync under /proc returns to its caller, in a child process with a timeout',
  () => {
    const built = resolve(import.meta.dirname, '../../dist/platform/make-directory.js');
    const script = `import { makeDirectorySync } from ${JSON.stringify(built)};
try { makeDirectorySync('/proc/valkyrie-test/state'); } catch (error) { console.log(error.message); }`;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(child.signal).toBeNull();
    expect(child.stdout).toContain('cannot create the directory /proc/valkyrie-test: /proc does not allow');
  },
);
