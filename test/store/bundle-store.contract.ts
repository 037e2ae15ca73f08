import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BundleStore } from '../../src/store/bundles.js';
import { bundleRetentionContract } from './bundle-retention.contract.js';

export interface OpenedBundleStore {
  readonly store: BundleStore;
  /** Another handle on the same bundles, as another replica opens them; closed by `cleanup`. */
  another(): Promise<BundleStore>;
  /**
   * Damages the stored copy of `sha256` under the store, as a disk fault or a power loss does: cuts it
   * to half its bytes, or flips its first byte (same size, another hash).
   */
  damage(sha256: string, how: Damage): Promise<void>;
  cleanup(): Promise<void>;
}

export type Damage = 'truncated' | 'flipped';

/** A fresh, empty bundle store per test. */
export type BundleStoreFactory = () => Promise<OpenedBundleStore>;

const MiB = 1024 * 1024;
/** The last use every put here records; bundle-retention.contract.ts is about those times. */
const usedAt = () => 1_000_000;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** `bytes` in pieces of `size` (as a request body arrives), counting how many were pulled. */
function body(bytes: Buffer, size = 64 * 1024) {
  const pulled = { pieces: 0, bytes: 0 };
  async function* pieces() {
    for (let at = 0; at < bytes.length; at += size) {
      const piece = bytes.subarray(at, at + size);
      pulled.pieces++;
      pulled.bytes += piece.length;
      yield piece;
    }
  }
  return Object.assign(pieces(), { pulled });
}

async function readAll(stream: Readable): Promise<{ bytes: Buffer; largestPiece: number }> {
  const pieces: Buffer[] = [];
  for await (const piece of stream) pieces.push(piece as Buffer);
  return { bytes: Buffer.concat(pieces), largestPiece: Math.max(0, ...pieces.map((p) => p.length)) };
}

/** The BundleStore lifecycle every implementation must honour. */
export function bundleStoreContract(make: BundleStoreFactory): void {
  let opened: OpenedBundleStore | undefined;
  beforeEach(async () => {
    opened = await make();
  });
  afterEach(async () => {
    await opened?.cleanup();
    opened = undefined;
  });
  const current = () => {
    if (opened === undefined) throw new Error('the store is only open inside a test');
    return opened;
  };
  const bundles = () => current().store;

  // Not a multiple of 1 MiB or of the piece size, so chunk boundaries fall inside pieces.
  const large = randomBytes(2 * MiB + 12_345);
  const largeSha = sha256(large);

  describe('bundles', () => {
    it('has nothing before a put, and reading an absent bundle fails with VK_BUNDLE_NOT_FOUND', async () => {
      expect(await bundles().has(largeSha)).toBe(false);
      await expect(readAll(bundles().read(largeSha))).rejects.toMatchObject({ code: 'VK_BUNDLE_NOT_FOUND' });
    });

    it('stores a bundle whole and reads the same bytes back, in pieces of at most 1 MiB, on every handle', async () => {
      expect(await bundles().put(largeSha, body(large, 50_000), 10 * MiB, usedAt)).toBe('created');
      expect(await bundles().has(largeSha)).toBe(true);
      const here = await readAll(bundles().read(largeSha));
      expect(here.bytes.equals(large)).toBe(true);
      expect(here.largestPiece).toBeLessThanOrEqual(MiB);
      const other = await current().another();
      expect(await other.has(largeSha)).toBe(true);
      expect((await readAll(other.read(largeSha))).bytes.equals(large)).toBe(true);
    });

    it('stores an empty bundle', async () => {
      const empty = Buffer.alloc(0);
      expect(await bundles().put(sha256(empty), body(empty), MiB, usedAt)).toBe('created');
      expect((await readAll(bundles().read(sha256(empty)))).bytes.length).toBe(0);
    });

    it('answers existed for a bundle already stored, after reading and checking the body again', async () => {
      const again = body(large);
      await bundles().put(largeSha, body(large), 10 * MiB, usedAt);
      expect(await bundles().put(largeSha, again, 10 * MiB, usedAt)).toBe('existed');
      expect(again.pulled.bytes).toBe(large.length);
      const wrong = Buffer.from('not the stored bundle');
      await expect(bundles().put(largeSha, body(wrong), 10 * MiB, usedAt)).rejects.toMatchObject({
        code: 'VK_BUNDLE_HASH_MISMATCH',
      });
      expect((await readAll(bundles().read(largeSha))).bytes.equals(large)).toBe(true);
    });

    it('stores nothing for a body that does not hash to its name, and the right body is stored after it', async () => {
      const wrong = Buffer.concat([large.subarray(0, 2 * MiB), Buffer.from('tampered')]);
      const refused = bundles().put(largeSha, body(wrong), 10 * MiB, usedAt);
      await expect(refused).rejects.toMatchObject({ code: 'VK_BUNDLE_HASH_MISMATCH' });
      await expect(refused).rejects.toThrow(`not ${largeSha}`);
      expect(await bundles().has(largeSha)).toBe(false);
      expect(await (await current().another()).has(largeSha)).toBe(false);
      expect(await bundles().put(largeSha, body(large), 10 * MiB, usedAt)).toBe('created');
      expect((await readAll(bundles().read(largeSha))).bytes.equals(large)).toBe(true);
    });

    it('refuses a body past the limit with VK_BODY_TOO_LARGE as soon as it passes it, storing nothing', async () => {
      const limit = MiB + 1;
      const tooLarge = body(large, 64 * 1024);
      await expect(bundles().put(largeSha, tooLarge, limit, usedAt)).rejects.toMatchObject({
        code: 'VK_BODY_TOO_LARGE',
      });
      // The piece that crossed the limit is the last one read.
      expect(tooLarge.pulled.bytes).toBeLessThan(limit + 64 * 1024);
      expect(await bundles().has(largeSha)).toBe(false);
      const exact = large.subarray(0, limit);
      expect(await bundles().put(sha256(exact), body(exact), limit, usedAt)).toBe('created');
    });

    it("stores nothing when the body fails, and passes the body's error on", async () => {
      const failure = new Error('the client went away');
      async function* failing() {
        yield large.subarray(0, MiB + 5);
        throw failure;
      }
      await expect(bundles().put(largeSha, failing(), 10 * MiB, usedAt)).rejects.toBe(failure);
      expect(await bundles().has(largeSha)).toBe(false);
    });

    it('shows a bundle to no handle until its upload has finished', async () => {
      let resume = () => {};
      const paused = new Promise<void>((resolve) => {
        resume = resolve;
      });
      let reachedPause = () => {};
      const halfway = new Promise<void>((resolve) => {
        reachedPause = resolve;
      });
      async function* slow() {
        yield large.subarray(0, MiB + 100);
        yield large.subarray(MiB + 100, 2 * MiB + 100);
        reachedPause();
        await paused;
        yield large.subarray(2 * MiB + 100);
      }
      const upload = bundles().put(largeSha, slow(), 10 * MiB, usedAt);
      await halfway;
      const other = await current().another();
      for (const handle of [bundles(), other]) {
        expect(await handle.has(largeSha)).toBe(false);
        await expect(readAll(handle.read(largeSha))).rejects.toMatchObject({ code: 'VK_BUNDLE_NOT_FOUND' });
      }
      resume();
      expect(await upload).toBe('created');
      expect((await readAll(other.read(largeSha))).bytes.equals(large)).toBe(true);
    });

    it('lets uploads of one bundle race on several handles: one creates it, the rest find it, a wrong one stores nothing', async () => {
      const other = await current().another();
      // Same length, first byte flipped: hashes differently whatever the random bytes are.
      const wrong = Buffer.from(large);
      wrong[0] = (wrong[0] ?? 0) ^ 0xff;
      const results = await Promise.allSettled([
        bundles().put(largeSha, body(large, 100_000), 10 * MiB, usedAt),
        other.put(largeSha, body(wrong, 70_000), 10 * MiB, usedAt),
        other.put(largeSha, body(large, 30_000), 10 * MiB, usedAt),
        bundles().put(largeSha, body(large, 64 * 1024), 10 * MiB, usedAt),
      ]);
      const outcomes = results.map((result) =>
        result.status === 'fulfilled' ? result.value : (result.reason as { code?: string }).code,
      );
      expect(outcomes[1]).toBe('VK_BUNDLE_HASH_MISMATCH');
      expect([outcomes[0], outcomes[2], outcomes[3]].sort()).toEqual(['created', 'existed', 'existed']);
      for (const handle of [bundles(), other])
        expect((await readAll(handle.read(largeSha))).bytes.equals(large)).toBe(true);
    });
  });

  describe.each<Damage>(['truncated', 'flipped'])('a copy damaged under the store (%s)', (how) => {
    it('is streamed as stored, then fails its read with VK_BUNDLE_DAMAGED and is gone from every handle', async () => {
      await bundles().put(largeSha, body(large), 10 * MiB, usedAt);
      await current().damage(largeSha, how);
      const other = await current().another();
      const pieces: Buffer[] = [];
      const reading = (async () => {
        for await (const piece of bundles().read(largeSha)) pieces.push(piece as Buffer);
      })();
      await expect(reading).rejects.toMatchObject({
        code: 'VK_BUNDLE_DAMAGED',
        message: expect.stringContaining(`bundle ${largeSha} is damaged`),
      });
      expect(Buffer.concat(pieces).equals(large)).toBe(false);
      for (const handle of [bundles(), other]) {
        expect(await handle.has(largeSha)).toBe(false);
        expect(await handle.touch(largeSha, 2_000_000)).toBe(false);
      }
      expect(await other.put(largeSha, body(large), 10 * MiB, usedAt)).toBe('created');
      expect((await readAll(bundles().read(largeSha))).bytes.equals(large)).toBe(true);
    });

    it('is replaced by a put of the right bytes, which answers created', async () => {
      await bundles().put(largeSha, body(large), 10 * MiB, usedAt);
      await current().damage(largeSha, how);
      const other = await current().another();
      expect(await other.put(largeSha, body(large, 70_000), 10 * MiB, usedAt)).toBe('created');
      for (const handle of [bundles(), other]) {
        expect(await handle.has(largeSha)).toBe(true);
        expect((await readAll(handle.read(largeSha))).bytes.equals(large)).toBe(true);
      }
      expect(await bundles().put(largeSha, body(large), 10 * MiB, usedAt)).toBe('existed');
    });

    it('is not replaced by a body that does not hash to its name', async () => {
      await bundles().put(largeSha, body(large), 10 * MiB, usedAt);
      await current().damage(largeSha, how);
      const wrong = Buffer.from('not the bundle either');
      await expect(bundles().put(largeSha, body(wrong), 10 * MiB, usedAt)).rejects.toMatchObject({
        code: 'VK_BUNDLE_HASH_MISMATCH',
      });
      // Its length, not its bytes: a failure message that prints 1 MiB takes a minute to write.
      const read = readAll(bundles().read(largeSha)).then(({ bytes }) => bytes.length);
      await expect(read).rejects.toMatchObject({ code: 'VK_BUNDLE_DAMAGED' });
    });

    it('keeps the copy a put placed while a read of the damaged one was under way', async () => {
      await bundles().put(largeSha, body(large), 10 * MiB, usedAt);
      await current().damage(largeSha, how);
      const reading = bundles().read(largeSha)[Symbol.asyncIterator]();
      expect((await reading.next()).done).toBe(false);
      const other = await current().another();
      expect(await other.put(largeSha, body(large), 10 * MiB, usedAt)).toBe('created');
      // The read may have met the old copy's bytes or the new one's, as they were read piece by piece.
      const rest = (async () => {
        for (let piece = await reading.next(); piece.done !== true; piece = await reading.next());
        return 'whole';
      })();
      await rest.catch((error: unknown) => expect(error).toMatchObject({ code: 'VK_BUNDLE_DAMAGED' }));
      for (const handle of [bundles(), other]) {
        expect(await handle.has(largeSha)).toBe(true);
        expect((await readAll(handle.read(largeSha))).bytes.equals(large)).toBe(true);
      }
    });
  });

  bundleRetentionContract(current);
}
