import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { unpackBundle } from '../../src/bundle/unpack.js';
import { type RawEntry, writeRawArchive } from './hostile-archive.js';
import { readTree } from './tree.js';

let base = '';
const bases: string[] = [];
afterEach(() => {
  for (const dir of bases.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function newBase(): string {
  base = mkdtempSync(join(tmpdir(), 'valkyrie-hostile-'));
  bases.push(base);
  return base;
}

/** Unpacks `entries` into base/ws and returns the error; nothing may appear beside or inside ws. */
async function refusal(entries: (outside: string) => RawEntry[]): Promise<unknown> {
  newBase();
  const archive = join(base, 'bundle.tar.gz');
  const target = join(base, 'ws');
  const sha256 = writeRawArchive(archive, entries(base));
  const error = await unpackBundle({ archive, sha256, target }).catch((e: unknown) => e);
  expect(readdirSync(base).sort()).toEqual(['bundle.tar.gz', 'ws']);
  expect(readdirSync(target)).toEqual([]);
  return error;
}

const file = (path: string): RawEntry => ({ path, type: 'File', content: 'owned' });
const link = (path: string, linkpath: string): RawEntry => ({ path, type: 'SymbolicLink', linkpath });

describe('unpacking a hostile bundle', () => {
  it('refuses a path that climbs out with ..', async () => {
    const error = await refusal(() => [file('ok.txt'), file('../x')]);
    expect(error).toMatchObject({ code: 'VK_BUNDLE_UNSAFE' });
    expect(String(error)).toContain('entry "../x": the path has a ".." part');
  });

  it('refuses a .. hidden in the middle of a path', async () => {
    const error = await refusal(() => [file('a/../../x')]);
    expect(String(error)).toContain('entry "a/../../x"');
  });

  it('refuses an absolute path', async () => {
    const error = await refusal((outside) => [file(`${outside}/x`), file('/etc/valkyrie-test-x')]);
    expect(error).toMatchObject({ code: 'VK_BUNDLE_UNSAFE' });
    expect(String(error)).toContain('the path is absolute');
    expect(existsSync('/etc/valkyrie-test-x')).toBe(false);
  });

  it('refuses a symbolic link to / and a file written through it', async () => {
    const error = await refusal((outside) => [link('root', '/'), file(`root${outside}/escaped`)]);
    expect(error).toMatchObject({ code: 'VK_BUNDLE_UNSAFE' });
    expect(String(error)).toContain('entry "root": the symbolic link points to "/", an absolute path');
  });

  it('refuses a file under a link even when the link itself looks harmless', async () => {
    const error = await refusal(() => [link('here', '.'), file('here/x')]);
    expect(String(error)).toContain('entry "here/x": it lies under the symbolic link here');
  });

  it('refuses a relative link that leaves the directory', async () => {
    const error = await refusal(() => [link('up', '../..'), file('up/escaped')]);
    expect(String(error)).toContain('entry "up": the symbolic link points to "../..", outside the workspace');
  });

  it('refuses a link whose .. passes through another link', async () => {
    const error = await refusal(() => [link('x', '.'), link('s', 'x/..')]);
    expect(String(error)).toContain('entry "s"');
    expect(String(error)).toContain('goes through the link x');
  });

  it('refuses a link and a file that differ only in case (a case-insensitive disk would merge them)', async () => {
    const error = await refusal(() => [link('Lib', '.'), file('lib/x')]);
    expect(String(error)).toContain('it lies under the symbolic link lib');
  });

  it('refuses hard links, FIFOs and repeated paths', async () => {
    expect(String(await refusal(() => [file('a'), { path: 'b', type: 'Link', linkpath: 'a' }]))).toContain(
      'a Link entry is not allowed',
    );
    expect(String(await refusal(() => [{ path: 'pipe', type: 'FIFO' }]))).toContain('a FIFO entry');
    expect(String(await refusal(() => [file('a'), link('a', 'b')]))).toContain('the path appears twice');
  });

  it('refuses a file that another entry uses as a directory', async () => {
    const error = await refusal(() => [file('a'), file('a/b')]);
    expect(String(error)).toContain('entry "a/b": it lies under a, which is a file');
  });

  it('refuses a bundle whose files add up to more than the limit, before writing any', async () => {
    newBase();
    const archive = join(base, 'bundle.tar.gz');
    const target = join(base, 'ws');
    const sha256 = writeRawArchive(archive, [
      { path: 'a', type: 'File', content: 'x'.repeat(600) },
      { path: 'b', type: 'File', content: 'y'.repeat(600) },
    ]);
    const error = await unpackBundle({ archive, sha256, target, maxBytes: 1000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VK_BUNDLE_TOO_LARGE' });
    expect(String(error)).toContain('files add up to 1.2 KiB and the limit is 1000 B');
    expect(readdirSync(target)).toEqual([]);
    await unpackBundle({ archive, sha256, target, maxBytes: 1200 });
    expect(readdirSync(target).sort()).toEqual(['a', 'b']);
  });

  it('fails, without hanging, when an entry cannot be written', async () => {
    newBase();
    const archive = join(base, 'bundle.tar.gz');
    const sha256 = writeRawArchive(archive, [file('a'), file('n'.repeat(300)), file('z')]);
    const error = await unpackBundle({ archive, sha256, target: join(base, 'ws') }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ENAMETOOLONG' });
  });

  it('unpacks links to links and links into directories of the archive', async () => {
    newBase();
    const archive = join(base, 'bundle.tar.gz');
    const entries: RawEntry[] = [
      file('lib/libx.so.1.2'),
      link('lib/libx.so', 'libx.so.1'),
      link('lib/libx.so.1', 'libx.so.1.2'),
      link('current', 'lib'),
      { path: 'empty/', type: 'Directory' },
    ];
    const sha256 = writeRawArchive(archive, entries);
    const target = join(base, 'ws');
    await unpackBundle({ archive, sha256, target });
    expect(readTree(target).map((entry) => entry.path)).toEqual([
      'current',
      'lib/libx.so',
      'lib/libx.so.1',
      'lib/libx.so.1.2',
    ]);
    expect(readdirSync(join(target, 'empty'))).toEqual([]);
  });
});
