import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unpackBundle } from '../../src/bundle/unpack.js';
import { mountSmallDisk, unmountSmallDisk } from '../small-disk.js';
import { writeRawArchive } from './hostile-archive.js';

const base = mkdtempSync(join(tmpdir(), 'valkyrie-unpack-space-'));
const disk = join(base, 'disk');
mkdirSync(disk);

/** A 1 MiB tmpfs, so that "the disk's free space" is small and known. */
const skipReason = mountSmallDisk(disk, '1m');

afterAll(() => {
  if (skipReason === undefined) unmountSmallDisk(disk);
  rmSync(base, { recursive: true, force: true });
});

const title = 'unpacking bundles at the same time on one disk';
describe.skipIf(skipReason !== undefined)(
  skipReason === undefined ? title : `${title} (skipped: ${skipReason})`,
  () => {
    it('counts the space promised to an unpack still writing: of two that fit only one at a time, one is refused', async () => {
      // 600 KiB of files each, a few KiB of gzip: both fit the free space alone, not together.
      const bundles = ['a', 'b'].map((name) => {
        const archive = join(base, `${name}.tar.gz`);
        const sha256 = writeRawArchive(archive, [
          { path: 'big', type: 'File', content: name.repeat(600 * 1024) },
        ]);
        return { archive, sha256, target: join(disk, name) };
      });
      const outcomes = await Promise.allSettled(bundles.map((bundle) => unpackBundle(bundle)));
      const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
      expect(refused).toHaveLength(1);
      expect(refused[0]).toMatchObject({
        reason: {
          code: 'VK_BUNDLE_TOO_LARGE',
          message: expect.stringContaining('promised to other bundles being unpacked'),
        },
      });
      const written = bundles.map((bundle) => readdirSync(bundle.target));
      expect(written.sort()).toEqual([[], ['big']]);
    });
  },
);
