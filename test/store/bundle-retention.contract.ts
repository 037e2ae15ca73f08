import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { BundleStore } from '../../src/store/bundles.js';
import type { OpenedBundleStore } from './bundle-store.contract.js';

const MiB = 1024 * 1024;

/** A small bundle of its own bytes, with its name. */
function bundle(size: number): { bytes: Buffer; sha: string } {
  const bytes = randomBytes(size);
  return { bytes, sha: createHash('sha256').update(bytes).digest('hex') };
}

async function* once(bytes: Buffer) {
  yield bytes;
}

async function drain(stream: Readable): Promise<void> {
  for await (const _piece of stream);
}

/**
 * BundleStore's last-use times and removal (part of the bundle store contract). Times are the ones
 * the calls pass, as the server passes its clock's: no test waits for one to go by.
 */
export function bundleRetentionContract(current: () => OpenedBundleStore): void {
  const bundles = () => current().store;
  const put = (store: BundleStore, { bytes, sha }: { bytes: Buffer; sha: string }, at: number) =>
    store.put(sha, once(bytes), MiB, () => at);

  describe('bundle retention', () => {
    it('removes a bundle last used before the cut-off, for every handle, and keeps one used at it', async () => {
      const old = bundle(1000);
      const recent = bundle(2000);
      await put(bundles(), old, 1_000);
      await put(bundles(), recent, 2_000);
      expect(await bundles().removeUnused(2_000, new Set())).toEqual({ count: 1, bytes: 1000 });
      const other = await current().another();
      for (const handle of [bundles(), other]) {
        expect(await handle.has(old.sha)).toBe(false);
        await expect(drain(handle.read(old.sha))).rejects.toMatchObject({ code: 'VK_BUNDLE_NOT_FOUND' });
        expect(await handle.has(recent.sha)).toBe(true);
      }
      expect(await bundles().removeUnused(2_000, new Set())).toEqual({ count: 0, bytes: 0 });
      // Removed is absent: the same bytes can be uploaded again.
      expect(await put(other, old, 3_000)).toBe('created');
      expect(await bundles().has(old.sha)).toBe(true);
    });

    it('moves the last use forward with touch, never back, and answers whether the bundle is stored', async () => {
      const used = bundle(500);
      await put(bundles(), used, 1_000);
      expect(await bundles().touch(used.sha, 5_000)).toBe(true);
      expect(await (await current().another()).touch(used.sha, 3_000)).toBe(true);
      expect(await bundles().removeUnused(5_000, new Set())).toEqual({ count: 0, bytes: 0 });
      expect(await bundles().removeUnused(5_001, new Set())).toEqual({ count: 1, bytes: 500 });
      expect(await bundles().touch(used.sha, 9_000)).toBe(false);
      expect(await bundles().has(used.sha)).toBe(false);
    });

    it('counts an upload of a bundle already stored as a use', async () => {
      const again = bundle(300);
      expect(await put(bundles(), again, 1_000)).toBe('created');
      expect(await put(await current().another(), again, 4_000)).toBe('existed');
      expect(await bundles().removeUnused(4_000, new Set())).toEqual({ count: 0, bytes: 0 });
      expect(await bundles().removeUnused(4_001, new Set())).toEqual({ count: 1, bytes: 300 });
    });

    it("records an upload's use when its body has arrived, and a sweep while it arrives leaves it stored", async () => {
      const stored = bundle(3000);
      const fresh = bundle(3000);
      await put(bundles(), stored, 1_000);
      const sweeper = await current().another();
      let now = 1_000;
      // The clock moves past a 4 s retention while the bodies arrive, and a sweep runs meanwhile (it
      // may remove the stored copy, which the upload then stores again).
      async function* late(bytes: Buffer) {
        yield bytes.subarray(0, 1000);
        now = 10_000;
        await sweeper.removeUnused(now - 4_000, new Set());
        yield bytes.subarray(1000);
      }
      for (const { bytes, sha } of [stored, fresh]) await bundles().put(sha, late(bytes), MiB, () => now);
      expect(await sweeper.removeUnused(10_000, new Set())).toEqual({ count: 0, bytes: 0 });
      for (const { sha } of [stored, fresh]) expect(await sweeper.has(sha)).toBe(true);
      expect(await sweeper.removeUnused(10_001, new Set())).toEqual({ count: 2, bytes: 6000 });
    });

    it('keeps the bundles it is told to keep, however old their last use', async () => {
      const kept = bundle(100);
      const dropped = bundle(200);
      await put(bundles(), kept, 1_000);
      await put(bundles(), dropped, 1_000);
      expect(await bundles().removeUnused(10_000, new Set([kept.sha]))).toEqual({ count: 1, bytes: 200 });
      expect(await bundles().has(kept.sha)).toBe(true);
      expect(await bundles().has(dropped.sha)).toBe(false);
    });

    it('lets sweeps on several handles run at once: each bundle is removed by exactly one', async () => {
      const all = Array.from({ length: 45 }, (_, index) => bundle(100 + index));
      for (const each of all) await put(bundles(), each, 1_000);
      const handles = [bundles(), await current().another(), await current().another()];
      const removed = await Promise.all(handles.map((handle) => handle.removeUnused(2_000, new Set())));
      expect(removed.reduce((sum, { count }) => sum + count, 0)).toBe(all.length);
      expect(removed.reduce((sum, { bytes }) => sum + bytes, 0)).toBe(
        all.reduce((sum, { bytes }) => sum + bytes.length, 0),
      );
      for (const each of all) expect(await bundles().has(each.sha)).toBe(false);
    });

    it('never loses a bundle to a sweep racing a touch that answered true', async () => {
      const all = Array.from({ length: 40 }, (_, index) => bundle(100 + index));
      for (const each of all) await put(bundles(), each, 1_000);
      const sweeper = await current().another();
      // Interleaved: half the touches start before the sweep, half after it started.
      const early = all.slice(0, 20).map((each) => bundles().touch(each.sha, 5_000));
      const sweep = sweeper.removeUnused(2_000, new Set());
      const late = all.slice(20).map((each) => bundles().touch(each.sha, 5_000));
      const touched = await Promise.all([...early, ...late]);
      const { count } = await sweep;
      const present = await Promise.all(all.map((each) => bundles().has(each.sha)));
      expect(present).toEqual(touched);
      expect(count).toBe(touched.filter((answer) => !answer).length);
      // Whatever the race decided, what stayed is whole.
      for (const [index, each] of all.entries())
        if (present[index] === true) {
          const pieces: Buffer[] = [];
          for await (const piece of bundles().read(each.sha)) pieces.push(piece as Buffer);
          expect(Buffer.concat(pieces).equals(each.bytes)).toBe(true);
        }
    });
  });
}
