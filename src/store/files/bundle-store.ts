import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { type FileHandle, link, open, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ValkyrieError } from '../../core/errors.js';
import { makeDirectory } from '../../platform/make-directory.js';
import { sha256File } from '../../platform/sha256-file.js';
import {
  type BundleStore,
  bundleNotFound,
  checkBundleHash,
  checkedCopy,
  meteredBody,
  type RemovedBundles,
} from '../bundles.js';

/**
 * Tries to place an upload: each failed try met a stored copy that a sweep removed between the link
 * and the touch, so more than a few means the name is not a bundle (a directory, say), not a race.
 */
const maxPlacements = 5;
const bundleFile = /^([0-9a-f]{64})\.tar\.gz$/;
/** Files of an upload or a removal that a crash left behind. */
const leftover = /^\.(upload|removing)-/;
/** An upload's temporary file, named in put(). */
const uploadFile = /^\.upload-/;

/**
 * Bundles as files, `<dir>/<sha256>.tar.gz`, for a server whose store keeps none (SQLite): one server
 * per directory, which holds its lock (server/store-lock.ts), as a sweep removes every bundle that its
 * own runs do not name. An upload streams to a temporary file while it is hashed, and is synced, then
 * linked into place only when its hash matches: a link is atomic and fails when the name exists, so a
 * reader sees the whole file or none, and of two uploads of one bundle exactly one creates it. The
 * directory is synced after, so that the name survives a power loss too.
 *
 * A file under the name can still be damaged (a disk fault, a copy from before files were synced, a
 * hand that truncated it). An upload that meets a file of another size, or of its size and another
 * hash, renames itself over it; a read hashes what it streams and removes a file that does not match.
 *
 * A bundle's last use is its file's modification time. A removal first renames the file out of its
 * name (atomic: of two sweeps, one gets it; a touch after the rename finds no file and answers
 * false), then reads the time again: a touch that landed between its first look and the rename has
 * moved it, and the file is linked back instead of deleted (and the directory synced, as its toucher
 * was told it is stored). For that instant the name is absent, so a `has`, `read` or `touch` of the
 * same bundle at that very moment answers as if it were gone. A sweep's removal is not synced: one a
 * power loss undoes brings back the whole file (synced before it was named) or its `.removing-`
 * name, unused still, and the next sweep removes it again.
 */
export class FileBundleStore implements BundleStore {
  /**
   * This handle's uploads still arriving. A sweep skips their temporary files however old their
   * modification time reads: the server's clock, not the file system's, dates a use, and an upload
   * that is slow (or a clock that was moved) must not lose its file under it. Another process's
   * sweep knows only the time, and removes an upload that has written nothing for the retention.
   */
  readonly #arriving = new Set<string>();

  constructor(private readonly dir: string) {}

  private pathOf(sha256: string): string {
    return join(this.dir, `${sha256}.tar.gz`);
  }

  async has(sha256: string): Promise<boolean> {
    return stat(this.pathOf(sha256)).then(
      (info) => info.isFile(),
      () => false,
    );
  }

  async put(
    sha256: string,
    body: AsyncIterable<Uint8Array>,
    maxBytes: number,
    usedAt: () => number,
  ): Promise<'created' | 'existed'> {
    await makeDirectory(this.dir);
    const temporaryName = `.upload-${randomBytes(8).toString('hex')}`;
    const temporary = join(this.dir, temporaryName);
    const hash = createHash('sha256');
    const path = this.pathOf(sha256);
    this.#arriving.add(temporaryName);
    try {
      // Synced before it is linked into place: after a power loss the name holds all of its bytes.
      await pipeline(
        Readable.from(meteredBody(body, maxBytes, hash)),
        createWriteStream(temporary, { flush: true }),
      );
      checkBundleHash(sha256, hash);
      // Read now that the body is whole: a copy stored earlier may have been swept while it arrived,
      // and this one is placed anyway, so the upload's duration never ages it.
      const at = usedAt();
      // Placed with its last use set, so a sweep never judges it by the time its bytes were written.
      await utimes(temporary, new Date(at), new Date(at));
      for (let attempt = 0; attempt < maxPlacements; attempt++) {
        if ((await place(temporary, path)) === 'created' || (await replaceDamaged(temporary, path, sha256))) {
          await syncDirectory(this.dir);
          return 'created';
        }
        if (await this.touch(sha256, at)) return 'existed';
        // A sweep removed the stored copy between the link and the touch: place this one.
      }
      throw new ValkyrieError(
        'VK_STORE',
        `could not store bundle ${sha256}: ${path} exists but is not a regular file (or is removed each time this upload finds it); remove it`,
      );
    } finally {
      await unlink(temporary).catch(() => undefined);
      this.#arriving.delete(temporaryName);
    }
  }

  async touch(sha256: string, at: number): Promise<boolean> {
    const path = this.pathOf(sha256);
    try {
      const info = await stat(path);
      if (!info.isFile()) return false;
      if (info.mtimeMs < at) await utimes(path, info.atime, new Date(at));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  read(sha256: string): Readable {
    return Readable.from(this.#checkedBytes(sha256), { objectMode: false });
  }

  /** The file's bytes, hashed as they pass: a damaged copy is removed before the stream fails. */
  async *#checkedBytes(sha256: string): AsyncGenerator<Buffer> {
    const path = this.pathOf(sha256);
    const file = await open(path).catch((error: unknown) => {
      throw (error as NodeJS.ErrnoException).code === 'ENOENT' ? bundleNotFound(sha256) : error;
    });
    try {
      const bytes: AsyncIterable<Buffer> = file.createReadStream({ autoClose: false });
      yield* checkedCopy(sha256, bytes, () => this.#removeDamaged(sha256, file));
    } finally {
      await file.close();
    }
  }

  /**
   * Removes the copy `read` opened, found damaged. Renamed out of its name first, as a sweep does:
   * when the file so taken is not the one read, an upload replaced it meanwhile, and it goes back.
   */
  async #removeDamaged(sha256: string, read: FileHandle): Promise<void> {
    const path = this.pathOf(sha256);
    const judged = join(this.dir, `.removing-${sha256}-${randomBytes(8).toString('hex')}`);
    try {
      await rename(path, judged);
    } catch (error) {
      // Removed already: by a sweep, or by another reader that found it damaged too.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const [taken, damaged] = await Promise.all([stat(judged), read.stat()]);
    if (taken.ino !== damaged.ino || taken.dev !== damaged.dev)
      await link(judged, path).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      });
    await unlink(judged);
    await syncDirectory(this.dir);
  }

  /**
   * Removes the temporary file of every upload this handle is not receiving, at once. Only for the
   * server that holds the directory (server/store-lock.ts) and before it takes uploads: then nothing
   * else writes one, so each is the file of an upload cut off by that server's death (killed, or
   * stopped at its drain deadline mid-upload), which the sweep would keep for the whole retention.
   * An upload that ends while the server runs removes its own file (put()).
   */
  async removeDeadUploads(): Promise<RemovedBundles> {
    const names = await namesIn(this.dir);
    let count = 0;
    let bytes = 0;
    for (const name of names) {
      if (!uploadFile.test(name) || this.#arriving.has(name)) continue;
      const path = join(this.dir, name);
      const info = await stat(path).catch(() => undefined);
      if (info === undefined || !info.isFile()) continue;
      await unlink(path);
      count++;
      bytes += info.size;
    }
    return { count, bytes };
  }

  async removeUnused(usedBefore: number, keep: ReadonlySet<string>): Promise<RemovedBundles> {
    const names = await namesIn(this.dir);
    let count = 0;
    let bytes = 0;
    for (const name of names) {
      const sha256 = bundleFile.exec(name)?.[1];
      if (sha256 === undefined) {
        if (leftover.test(name) && !this.#arriving.has(name)) {
          await removeIfUnused(join(this.dir, name), usedBefore);
        }
        continue;
      }
      if (keep.has(sha256)) continue;
      const removed = await this.#removeIfUnused(sha256, usedBefore);
      if (removed === undefined) continue;
      count++;
      bytes += removed;
    }
    return { count, bytes };
  }

  /** The removed file's size, or undefined when it is gone already or was used since `usedBefore`. */
  async #removeIfUnused(sha256: string, usedBefore: number): Promise<number | undefined> {
    const path = this.pathOf(sha256);
    const seen = await stat(path).catch(() => undefined);
    if (seen === undefined || !(seen.mtimeMs < usedBefore)) return undefined;
    const judged = join(this.dir, `.removing-${sha256}-${randomBytes(8).toString('hex')}`);
    try {
      await rename(path, judged);
    } catch (error) {
      // Another sweep took it first.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    // Gone already only when another sweep took it for a crash's leftover: it is removed either way.
    const info = await stat(judged).catch(() => undefined);
    if (info === undefined) return undefined;
    if (info.mtimeMs < usedBefore) {
      await unlink(judged).catch(() => undefined);
      return info.size;
    }
    // Touched between the first look and the rename: it is in use, so it goes back. EEXIST means an
    // upload placed the same bytes there meanwhile, which serves as well.
    await link(judged, path).catch((error: unknown) => {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    });
    await unlink(judged);
    // Its toucher was told it is stored: the name must survive a power loss, as an upload's does.
    await syncDirectory(this.dir);
    return undefined;
  }
}

/** The names in `dir`; none before the first upload makes it. */
async function namesIn(dir: string): Promise<string[]> {
  return readdir(dir).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  });
}

/** A crashed upload's or removal's file, once it has not changed since `usedBefore`. */
async function removeIfUnused(path: string, usedBefore: number): Promise<void> {
  const info = await stat(path).catch(() => undefined);
  if (info !== undefined && info.mtimeMs < usedBefore) await unlink(path).catch(() => undefined);
}

async function place(temporary: string, path: string): Promise<'created' | 'existed'> {
  try {
    await link(temporary, path);
    return 'created';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return 'existed';
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
  }
  // A file system without hard links (some network ones): a rename is atomic too, but two racing
  // uploads may then both answer 'created'.
  await rename(temporary, path);
  return 'created';
}

/**
 * Whether the file at `path` (met where `temporary`, whole and checked, was to be linked) is a
 * damaged copy, and if so replaces it with `temporary` (a rename replaces a name atomically).
 * Cheap first: a size other than the upload's is damage without reading a byte; only a copy of the
 * right size is hashed, on a path whose client has just sent (and had hashed) as many bytes.
 */
async function replaceDamaged(temporary: string, path: string, sha256: string): Promise<boolean> {
  const [stored, uploaded] = await Promise.all([stat(path).catch(() => undefined), stat(temporary)]);
  // Absent (a sweep took it) or not a file: put() decides what that means.
  if (stored === undefined || !stored.isFile()) return false;
  // A copy that cannot be read now (a sweep took it as it was hashed) is left to put()'s touch.
  const damaged = stored.size !== uploaded.size || (await sha256File(path).catch(() => sha256)) !== sha256;
  if (damaged) await rename(temporary, path);
  return damaged;
}

/** Makes the names linked, renamed or removed in `dir` survive a power loss. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
