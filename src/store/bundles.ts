import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ValkyrieError } from '../core/errors.js';

/**
 * Workspace bundles (the gzipped tars `valkyrie submit` uploads), content-addressed: a bundle's name
 * is the sha256 of its bytes, 64 lowercase hex digits (callers check the form).
 *
 * Lifecycle: `put` streams a bundle in; only once all of it is stored and its hash checked does it
 * become visible to `has` and `read`, on every process that shares the store, so no reader ever sees
 * a partial or wrong bundle. A stored bundle's bytes never change, but a copy can be damaged under the
 * store (a disk fault, a power loss before the file system wrote it out): such a copy heals as a
 * content-addressed store's should. A `read` hashes the bytes as they pass and, when they do not hash
 * to the name, removes the copy (so `has` answers false and the next upload stores it anew) and fails
 * with VK_BUNDLE_DAMAGED; a `put` whose body is right replaces a damaged copy. Each bundle has a last-use time, set by
 * `put` and moved forward by `touch`; `removeUnused` removes the bundles last used before a time (the
 * server's retention sweep), after which the bundle is absent until put again.
 *
 * Every call may run concurrently with any other, on any process sharing the store: several `put`s
 * of one bundle (one stores it, the others find it stored), and several `removeUnused` (each bundle
 * is removed by one of them). A `touch` and a `removeUnused` of the same bundle are ordered: either
 * the touch comes first, it answers true and the removal skips the bundle (its last use is no longer
 * old enough), or the removal comes first and the touch answers false. So a caller that touched a
 * bundle and got true may rely on it staying until its last use is older than the next removal's
 * cut-off. Bytes pass through in pieces; no call holds a whole bundle in memory.
 */
export interface BundleStore {
  /** Whether the bundle is stored, whole. */
  has(sha256: string): Promise<boolean>;
  /**
   * Reads `body` to its end and stores it under `sha256`, last used at what `usedAt` answers (ms since
   * the epoch) once the whole body has arrived and was checked, so that however long the upload took,
   * the bundle is as fresh as its end: 'created' when this call stored it, 'existed' when it was
   * already stored (by an earlier or a concurrent put; the body is still read and checked, and the
   * bundle's last use moves to `usedAt()`). A stored copy that does not hash to its name is damaged,
   * not stored: this body replaces it ('created'). A removal while the body arrives does not leave the
   * bundle absent once put has resolved. What put stored is on disk (synced) before any reader sees it.
   * Rejects, with nothing stored: VK_BODY_TOO_LARGE as soon as the body passes `maxBytes` (the rest
   * is left unread); VK_BUNDLE_HASH_MISMATCH when the body does not hash to `sha256`; the body's own
   * error when it fails.
   */
  put(
    sha256: string,
    body: AsyncIterable<Uint8Array>,
    maxBytes: number,
    usedAt: () => number,
  ): Promise<'created' | 'existed'>;
  /**
   * Records a use of the bundle at `at`: its last use becomes `at` unless it already is later. Answers
   * whether the bundle is stored; false changes nothing.
   */
  touch(sha256: string, at: number): Promise<boolean>;
  /**
   * The bundle's bytes, read from the store as the stream is consumed. For a bundle `has` does not
   * see, the stream fails with VK_BUNDLE_NOT_FOUND. When the bytes read do not hash to the name, the
   * stream fails with VK_BUNDLE_DAMAGED after its last piece, once the damaged copy is removed (a copy
   * a put placed meanwhile is kept); a stream destroyed before its end checks nothing.
   */
  read(sha256: string): Readable;
  /**
   * Removes every bundle last used before `usedBefore` (strictly) whose name is not in `keep`, and
   * answers how many this call removed and their bytes. A bundle being read as it is removed may
   * fail its reader with VK_BUNDLE_NOT_FOUND; a bundle touched concurrently is kept (see above).
   */
  removeUnused(usedBefore: number, keep: ReadonlySet<string>): Promise<RemovedBundles>;
}

/** What one `removeUnused` call removed. */
export interface RemovedBundles {
  readonly count: number;
  readonly bytes: number;
}

/** `body`'s pieces as Buffers, each added to `hash`; throws VK_BODY_TOO_LARGE once they pass `maxBytes`. */
export async function* meteredBody(
  body: AsyncIterable<Uint8Array>,
  maxBytes: number,
  hash: Hash,
): AsyncGenerator<Buffer> {
  let bytes = 0;
  for await (const piece of body) {
    bytes += piece.byteLength;
    if (bytes > maxBytes)
      throw new ValkyrieError(
        'VK_BODY_TOO_LARGE',
        `bundles are limited to ${maxBytes} bytes; nothing was stored`,
      );
    hash.update(piece);
    yield Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
  }
}

/** VK_BUNDLE_HASH_MISMATCH unless the body hashed to the name it was put under. */
export function checkBundleHash(expected: string, hash: Hash): void {
  const actual = hash.digest('hex');
  if (actual !== expected)
    throw new ValkyrieError(
      'VK_BUNDLE_HASH_MISMATCH',
      `the uploaded bundle's sha256 is ${actual}, not ${expected} as its URL says; nothing was stored`,
    );
}

export function bundleNotFound(sha256: string): ValkyrieError {
  return new ValkyrieError('VK_BUNDLE_NOT_FOUND', `no workspace bundle ${sha256} is stored`);
}

/**
 * A stored copy's `bytes`, hashed as they pass, for BundleStore.read: when they end and do not hash
 * to `sha256`, `removeDamaged` takes the copy out of the store, then the read fails VK_BUNDLE_DAMAGED.
 */
export async function* checkedCopy(
  sha256: string,
  bytes: AsyncIterable<Buffer>,
  removeDamaged: () => Promise<unknown>,
): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  for await (const piece of bytes) {
    hash.update(piece);
    yield piece;
  }
  const actual = hash.digest('hex');
  if (actual === sha256) return;
  await removeDamaged();
  throw bundleDamaged(sha256, actual);
}

/** The stream error of a read whose bytes did not hash to the bundle's name (see BundleStore.read). */
function bundleDamaged(sha256: string, actual: string): ValkyrieError {
  return new ValkyrieError(
    'VK_BUNDLE_DAMAGED',
    `the stored copy of bundle ${sha256} is damaged (its bytes hash to ${actual}); it was removed, and the next upload stores it anew`,
  );
}
