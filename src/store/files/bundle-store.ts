import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type BundleStore, bundleNotFound, checkBundleHash, meteredBody } from '../bundles.js';

/**
 * Bundles as files, `<dir>/<sha256>.tar.gz`, for a server whose store is not shared (SQLite), or whose
 * replicas share the directory. An upload streams to a temporary file while it is hashed, and is
 * linked into place only when its hash matches: a link is atomic and fails when the name exists, so a
 * reader sees the whole file or none, and of two uploads of one bundle exactly one creates it.
 */
export class FileBundleStore implements BundleStore {
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
  ): Promise<'created' | 'existed'> {
    await mkdir(this.dir, { recursive: true });
    const temporary = join(this.dir, `.upload-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    try {
      await pipeline(Readable.from(meteredBody(body, maxBytes, hash)), createWriteStream(temporary));
      checkBundleHash(sha256, hash);
      return await place(temporary, this.pathOf(sha256));
    } finally {
      await unlink(temporary).catch(() => undefined);
    }
  }

  read(sha256: string): Readable {
    const path = this.pathOf(sha256);
    return Readable.from(fileBytes(path, sha256), { objectMode: false });
  }
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

async function* fileBytes(path: string, sha256: string): AsyncGenerator<Buffer> {
  const file = await open(path).catch((error: unknown) => {
    throw (error as NodeJS.ErrnoException).code === 'ENOENT' ? bundleNotFound(sha256) : error;
  });
  try {
    yield* file.createReadStream({ autoClose: false });
  } finally {
    await file.close();
  }
}
