import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { list } from 'tar';
import { afterEach, describe, expect, it } from 'vitest';
import { packWorkspace } from '../../src/bundle/pack.js';
import { unpackBundle } from '../../src/bundle/unpack.js';
import { writeRawArchive } from './hostile-archive.js';
import { readTree, type TreeEntry, writeTree } from './tree.js';

const scratch: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'valkyrie-bundle-test-'));
  scratch.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const segment = fc.constantFrom('a', 'b', 'src', 'README.md', 'run.sh', 'dir with space', 'ü', '.hidden');
const modes = fc.constantFrom(0o644, 0o755, 0o600, 0o664, 0o700, 0o444);

/** Trees of files and relative links (to files of the tree, or dangling), no path inside another. */
const trees: fc.Arbitrary<TreeEntry[]> = fc
  .uniqueArray(fc.array(segment, { minLength: 1, maxLength: 3 }), {
    minLength: 1,
    maxLength: 12,
    selector: (parts) => parts.join('/'),
  })
  .map((all) => {
    const paths = all.map((parts) => parts.join('/'));
    return paths.filter((path) => !paths.some((other) => other.startsWith(`${path}/`)));
  })
  .chain((paths) =>
    fc.tuple(
      ...paths.map((path) =>
        fc.oneof(
          fc
            .record({ content: fc.string({ maxLength: 300 }), mode: modes })
            .map(({ content, mode }): TreeEntry => ({ kind: 'file', path, content, mode })),
          fc.constantFrom(...paths, 'nowhere').map(
            (to): TreeEntry => ({
              kind: 'symlink',
              path,
              target: posix.relative(posix.dirname(path), to) || '.',
            }),
          ),
        ),
      ),
    ),
  )
  .map((entries) => [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)));

/** `tree` written to a folder, packed, and unpacked into another: what is on disk there. */
async function packedAndUnpacked(tree: readonly TreeEntry[]): Promise<TreeEntry[]> {
  const dir = tempDir();
  writeTree(dir, tree);
  const bundle = await packWorkspace(dir);
  const target = join(tempDir(), 'ws');
  try {
    await unpackBundle({ archive: bundle.path, sha256: bundle.sha256, target });
  } finally {
    await bundle.dispose();
  }
  return readTree(target);
}

describe('pack and unpack', () => {
  it('reproduces files, contents, modes and symbolic links', async () => {
    await fc.assert(
      fc.asyncProperty(trees, async (tree) => {
        const source = tempDir();
        writeTree(source, tree);
        const bundle = await packWorkspace(source);
        try {
          const target = join(tempDir(), 'workspace');
          const count = await unpackBundle({ archive: bundle.path, sha256: bundle.sha256, target });
          expect(count).toBe(tree.length);
          expect(bundle.fileCount).toBe(tree.length);
          expect(readTree(target)).toEqual(tree);
        } finally {
          await bundle.dispose();
        }
      }),
      { numRuns: 30 },
    );
  });

  it('gives the same sha256 for the same tree, whatever the order and times files were made in', async () => {
    await fc.assert(
      fc.asyncProperty(trees, fc.integer({ min: 0, max: 2_000_000_000 }), async (tree, seconds) => {
        const first = tempDir();
        const second = tempDir();
        writeTree(first, tree);
        writeTree(second, [...tree].reverse());
        for (const entry of tree)
          if (entry.kind === 'file') utimesSync(join(second, entry.path), seconds, seconds);
        const a = await packWorkspace(first);
        const b = await packWorkspace(second);
        await Promise.all([a.dispose(), b.dispose()]);
        expect(b.sha256).toBe(a.sha256);
        expect(b.bytes).toBe(a.bytes);
      }),
      { numRuns: 20 },
    );
  });

  it('gives another sha256 when a mode or a byte changes', async () => {
    const dir = tempDir();
    writeTree(dir, [{ kind: 'file', path: 'build.sh', content: 'echo hi\n', mode: 0o644 }]);
    const plain = await packWorkspace(dir);
    rmSync(join(dir, 'build.sh'));
    writeTree(dir, [{ kind: 'file', path: 'build.sh', content: 'echo hi\n', mode: 0o755 }]);
    const executable = await packWorkspace(dir);
    writeFileSync(join(dir, 'build.sh'), 'echo ho\n');
    const edited = await packWorkspace(dir);
    await Promise.all([plain.dispose(), executable.dispose(), edited.dispose()]);
    expect(new Set([plain.sha256, executable.sha256, edited.sha256]).size).toBe(3);
  });

  it("compresses at gzip's fastest level, on which packing spends most of its time (docs/submit.md)", async () => {
    const dir = tempDir();
    const text = Array.from({ length: 20_000 }, (_, i) => `line ${i} of ${(i * 2654435761) % 4294967296}\n`);
    writeTree(dir, [{ kind: 'file', path: 'data.txt', content: text.join(''), mode: 0o644 }]);
    const bundle = await packWorkspace(dir);
    const bytes = readFileSync(bundle.path);
    await bundle.dispose();
    // XFL 4: "compressor used fastest algorithm" (RFC 1952), and the same bytes as zlib's level 1.
    expect(bytes[8]).toBe(4);
    expect(gzipSync(gunzipSync(bytes), { level: 1 }).equals(bytes)).toBe(true);
  });

  it('tells what it is about to read, then the bytes of file contents read as it goes', async () => {
    const dir = tempDir();
    writeTree(dir, [
      { kind: 'file', path: 'big.bin', content: 'z'.repeat(600 * 1024), mode: 0o644 },
      { kind: 'file', path: 'small.txt', content: 'y', mode: 0o644 },
      { kind: 'symlink', path: 'link', target: 'small.txt' },
    ]);
    const listed: unknown[] = [];
    const read: number[] = [];
    const bundle = await packWorkspace(dir, {
      onListed: (workspace) => listed.push({ ...workspace, readSoFar: read.length }),
      onRead: (bytes) => read.push(bytes),
    });
    await bundle.dispose();
    expect(listed).toEqual([{ fileCount: 3, contentBytes: 600 * 1024 + 1, source: 'folder', readSoFar: 0 }]);
    // In chunks of 256 KiB, counting contents only (not headers or padding), up to their sum.
    expect(read).toEqual([256 * 1024, 512 * 1024, 600 * 1024, 600 * 1024 + 1]);
  });

  it('keeps paths longer than a tar header holds', async () => {
    const long = `${'deep/'.repeat(30)}${'n'.repeat(120)}.txt`;
    const tree: TreeEntry[] = [
      { kind: 'file', path: long, content: 'far down', mode: 0o644 },
      { kind: 'symlink', path: 'shortcut', target: long },
    ];
    expect(await packedAndUnpacked(tree)).toEqual(tree);
  });

  // A test suite's fixtures of Windows paths: on Linux and macOS a backslash is part of a name.
  it.skipIf(process.platform === 'win32')(
    'keeps backslashes in names and link targets as they are',
    async () => {
      const tree: TreeEntry[] = [
        { kind: 'file', path: 'fixtures/C:\\Users\\me.txt', content: 'a Windows path', mode: 0o644 },
        { kind: 'file', path: 'fixtures/a\\..\\..\\b', content: 'no climbing here', mode: 0o644 },
        { kind: 'symlink', path: 'fixtures/link', target: 'a\\..\\..\\b' },
      ];
      expect(await packedAndUnpacked(tree)).toEqual(tree);
    },
  );

  it('refuses a workspace over the size limit before writing a bundle', async () => {
    const dir = tempDir();
    const temp = tempDir();
    writeTree(dir, [
      { kind: 'file', path: 'big/blob.bin', content: 'x'.repeat(5000), mode: 0o644 },
      { kind: 'file', path: 'small.txt', content: 'y', mode: 0o644 },
    ]);
    const error = await packWorkspace(dir, { maxBytes: 4096, tempDir: temp }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'VK_BUNDLE_TOO_LARGE' });
    expect(String(error)).toMatch(
      /4\.9 KiB in 2 files, over the bundle limit of 4\.0 KiB \(largest: big\/ 4\.9 KiB/,
    );
    expect(readdirSync(temp)).toEqual([]);
  });

  // A workspace with no files (a new repository, every file untracked) packs end-of-archive blocks
  // alone; tar's strict reader calls that an unrecognized archive, and every job failed.
  it('packs a workspace with no files, and unpacks it into an empty directory', async () => {
    const bundle = await packWorkspace(tempDir());
    const target = join(tempDir(), 'out');
    try {
      expect(bundle.fileCount).toBe(0);
      expect(await unpackBundle({ archive: bundle.path, sha256: bundle.sha256, target })).toBe(0);
      expect(readdirSync(target)).toEqual([]);
    } finally {
      await bundle.dispose();
    }
  });

  it('refuses to unpack a bundle whose sha256 is not the expected one, writing nothing', async () => {
    const dir = tempDir();
    writeTree(dir, [{ kind: 'file', path: 'a.txt', content: 'a', mode: 0o644 }]);
    const bundle = await packWorkspace(dir);
    const target = join(tempDir(), 'ws');
    const wrong = 'f'.repeat(64);
    await expect(unpackBundle({ archive: bundle.path, sha256: wrong, target })).rejects.toMatchObject({
      code: 'VK_BUNDLE_HASH_MISMATCH',
    });
    await bundle.dispose();
    expect(existsSync(target)).toBe(false);
  });

  it('unpacks only into an empty directory', async () => {
    const dir = tempDir();
    writeTree(dir, [{ kind: 'file', path: 'a.txt', content: 'a', mode: 0o644 }]);
    const bundle = await packWorkspace(dir);
    const target = tempDir();
    mkdirSync(join(target, 'left-over'));
    await expect(unpackBundle({ archive: bundle.path, sha256: bundle.sha256, target })).rejects.toMatchObject(
      { code: 'VK_WORKSPACE_NOT_EMPTY' },
    );
    await bundle.dispose();
  });
});

/** Files with setuid, setgid and sticky bits, and the modes they should arrive with (by path, as readTree). */
const special: readonly (readonly [string, number, number])[] = [
  ['all-three', 0o7700, 0o700],
  ['setgid', 0o2750, 0o750],
  ['setuid', 0o4755, 0o755],
  ['sticky', 0o1644, 0o644],
];
const specialFile = (path: string, mode: number): TreeEntry => ({
  kind: 'file',
  path,
  content: `${path}\n`,
  mode,
});
const submitted = special.map(([path, mode]) => specialFile(path, mode));
const arrived = special.map(([path, , mode]) => specialFile(path, mode));

// A runner unpacks as its own user: a setuid file there would run as that user for anyone on the
// machine who may execute it. Git keeps only 644 and 755 of a file's mode; a bundle keeps the
// read, write and execute bits and drops these three.
describe('setuid, setgid and sticky bits', () => {
  it('are left out of the bundle and off the unpacked files', async () => {
    const source = tempDir();
    writeTree(source, submitted);
    // Precondition: the file system gave the bits this test is about.
    for (const [path, mode] of special) expect(lstatSync(join(source, path)).mode & 0o7777).toBe(mode);
    const bundle = await packWorkspace(source);
    const plain = tempDir();
    writeTree(plain, arrived);
    const plainBundle = await packWorkspace(plain);
    try {
      const headers: Record<string, number> = {};
      await list({ file: bundle.path, onReadEntry: (entry) => (headers[entry.path] = entry.mode ?? -1) });
      expect(headers).toEqual(Object.fromEntries(special.map(([path, , mode]) => [path, mode])));
      // The same bundle as the tree without the bits: they are no part of what a bundle names.
      expect(bundle.sha256).toBe(plainBundle.sha256);
      const target = join(tempDir(), 'ws');
      await unpackBundle({ archive: bundle.path, sha256: bundle.sha256, target });
      expect(readTree(target)).toEqual(arrived);
    } finally {
      await Promise.all([bundle.dispose(), plainBundle.dispose()]);
    }
  });

  it('are dropped by unpack from a bundle that carries them (one of an older client)', async () => {
    const base = tempDir();
    const archive = join(base, 'bundle.tar.gz');
    const sha256 = writeRawArchive(
      archive,
      submitted.map((entry) => ({ ...entry, type: 'File' })),
    );
    const target = join(base, 'ws');
    await unpackBundle({ archive, sha256, target });
    expect(readTree(target)).toEqual(arrived);
  });
});
