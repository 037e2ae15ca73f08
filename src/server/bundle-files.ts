import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, type ReadStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError } from './api-error.js';

/** 1 GiB: a workspace larger than that belongs in an artifact store, not a job bundle. */
export const defaultMaxBundleBytes = 1024 * 1024 * 1024;

/**
 * Workspace bundles as content-addressed files: `<dir>/<sha256>.tar.gz`. An upload streams to a
 * temporary file while it is hashed, and is renamed into place only when its hash matches, so a
 * reader never sees a partial or wrong bundle; two uploads of one bundle race harmlessly.
 */
export class BundleFiles {
  constructor(
    private readonly dir: string,
    private readonly maxBytes = defaultMaxBundleBytes,
  ) {}

  pathOf(sha256: string): string {
    return join(this.dir, `${sha256}.tar.gz`);
  }

  async has(sha256: string): Promise<boolean> {
    return stat(this.pathOf(sha256)).then(
      (info) => info.isFile(),
      () => false,
    );
  }

  /** 'created' or 'existed'; 400 VK_BUNDLE_HASH_MISMATCH or 413 leave nothing behind. */
  async put(sha256: string, body: Readable): Promise<'created' | 'existed'> {
    await mkdir(this.dir, { recursive: true });
    const temporary = join(this.dir, `.upload-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let bytes = 0;
    const limit = this.maxBytes;
    try {
      await pipeline(
        body,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            bytes += chunk.length;
            if (bytes > limit)
              throw new ApiError(413, 'VK_BODY_TOO_LARGE', `bundles are limited to ${limit} bytes`);
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(temporary),
      );
      const actual = hash.digest('hex');
      if (actual !== sha256) {
        throw new ApiError(
          400,
          'VK_BUNDLE_HASH_MISMATCH',
          `the uploaded bundle's sha256 is ${actual}, not ${sha256} as its URL says; nothing was stored`,
          { path: 'params.sha256' },
        );
      }
      if (await this.has(sha256)) return 'existed';
      await rename(temporary, this.pathOf(sha256));
      return 'created';
    } finally {
      await unlink(temporary).catch(() => undefined);
    }
  }

  read(sha256: string): ReadStream {
    return createReadStream(this.pathOf(sha256));
  }
}
