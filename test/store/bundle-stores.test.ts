import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BundleStore } from '../../src/store/bundles.js';
import { FileBundleStore } from '../../src/store/files/bundle-store.js';
import { openPostgresStores } from '../../src/store/postgres/index.js';
import type { Stores } from '../../src/store/store.js';
import { type BundleStoreFactory, bundleStoreContract } from './bundle-store.contract.js';
import { tempDir } from './factories.js';
import {
  dropSchema,
  migratedSchema,
  postgresFactory,
  postgresSkipReason,
  postgresUrl,
  uniqueSchema,
  withRawClient,
} from './postgres-server.js';

const files: BundleStoreFactory = async () => {
  const { dir, remove } = await tempDir();
  return {
    store: new FileBundleStore(dir),
    another: async () => new FileBundleStore(dir),
    async damage(sha256, how) {
      const path = join(dir, `${sha256}.tar.gz`);
      if (how === 'truncated') return truncate(path, Math.floor((await stat(path)).size / 2));
      const file = await open(path, 'r+');
      try {
        const first = Buffer.alloc(1);
        await file.read(first, 0, 1, 0);
        await file.write(Buffer.from([(first[0] ?? 0) ^ 0xff]), 0, 1, 0);
      } finally {
        await file.close();
      }
    },
    cleanup: remove,
  };
};

function bundlesOf(stores: Stores): BundleStore {
  if (stores.bundles === undefined) throw new Error('the Postgres stores keep no bundles');
  return stores.bundles;
}

/** The Postgres stores' bundles, on the file's schema (postgresFactory): migrating one per test cost most of the test. */
const postgres: BundleStoreFactory = async () => {
  const opened = await postgresFactory();
  const schema = await migratedSchema();
  return {
    store: bundlesOf(opened.stores),
    another: async () => bundlesOf(await opened.openAnother()),
    async damage(sha256, how) {
      const chunks = `"${schema}".bundle_chunks`;
      const damaged =
        how === 'truncated'
          ? `substring(data FROM 1 FOR octet_length(data) / 2) WHERE sha256 = $1 AND idx = (SELECT max(idx) FROM ${chunks} WHERE sha256 = $1)`
          : 'set_byte(data, 0, 255 - get_byte(data, 0)) WHERE sha256 = $1 AND idx = 0';
      await withRawClient((client) => client.query(`UPDATE ${chunks} SET data = ${damaged}`, [sha256]));
    },
    cleanup: () => opened.cleanup(),
  };
};

const factories: ReadonlyArray<readonly [string, BundleStoreFactory, string?]> = [
  ['files', files],
  ['postgres', postgres, postgresSkipReason],
];

for (const [name, make, skip] of factories) {
  if (skip !== undefined) console.warn(`${name}: skipping the bundle store conformance suite: ${skip}`);
  describe.skipIf(skip !== undefined)(name, () => bundleStoreContract(make));
}

describe('file bundles', () => {
  it("fails an upload naming the path when something other than a file holds the bundle's name", async () => {
    const { dir, remove } = await tempDir();
    try {
      const bytes = Buffer.from('a bundle whose name a directory holds');
      const sha = createHash('sha256').update(bytes).digest('hex');
      await mkdir(join(dir, `${sha}.tar.gz`));
      async function* once() {
        yield bytes;
      }
      await expect(new FileBundleStore(dir).put(sha, once(), 1024, () => 1_000)).rejects.toMatchObject({
        code: 'VK_STORE',
        message: expect.stringContaining(`${join(dir, `${sha}.tar.gz`)} exists but is not a regular file`),
      });
    } finally {
      await remove();
    }
  });
  it("removes a crashed upload's file once the cut-off passes it, but never the file of one still arriving", async () => {
    const { dir, remove } = await tempDir();
    try {
      const store = new FileBundleStore(dir);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, '.upload-0123456789abcdef'), 'the half of a body a crash left');
      const bytes = randomBytes(3000);
      const sha = createHash('sha256').update(bytes).digest('hex');
      // The server's clock, not the file system's, dates a use: a cut-off past every file's time.
      const cutOff = Date.now() + 3_600_000;
      async function* slow() {
        yield bytes.subarray(0, 1000);
        expect(await store.removeUnused(cutOff, new Set())).toEqual({ count: 0, bytes: 0 });
        yield bytes.subarray(1000);
      }
      expect(await store.put(sha, slow(), 1024 * 1024, () => cutOff)).toBe('created');
      expect(await readdir(dir)).toEqual([`${sha}.tar.gz`]);
    } finally {
      await remove();
    }
  });
});

describe.skipIf(postgresSkipReason !== undefined)('postgres bundle rows', () => {
  const MiB = 1024 * 1024;
  const usedAt = () => 1_000_000;
  const large = randomBytes(2 * MiB + 12_345);
  const sha = createHash('sha256').update(large).digest('hex');
  async function* pieces(...parts: Buffer[]) {
    yield* parts;
  }
  const rows = (schema: string) =>
    withRawClient(async (client) => ({
      chunks: (
        await client.query(`SELECT idx, length(data) AS bytes FROM "${schema}".bundle_chunks ORDER BY idx`)
      ).rows,
      bundles: (await client.query(`SELECT sha256, size, chunks FROM "${schema}".bundles`)).rows,
    }));

  it('keeps a bundle as chunks of 1 MiB and one row naming their count and size', async () => {
    const schema = uniqueSchema();
    try {
      await using stores = await openPostgresStores(postgresUrl, { schema });
      await bundlesOf(stores).put(sha, pieces(large), 10 * MiB, usedAt);
      expect(await rows(schema)).toEqual({
        chunks: [
          { idx: 0, bytes: MiB },
          { idx: 1, bytes: MiB },
          { idx: 2, bytes: 12_345 },
        ],
        bundles: [{ sha256: sha, size: String(large.length), chunks: 3 }],
      });
    } finally {
      await dropSchema(schema);
    }
  });

  it('removes a bundle with its chunks, and keeps the rows of a bundle used since the cut-off', async () => {
    const schema = uniqueSchema();
    try {
      await using stores = await openPostgresStores(postgresUrl, { schema });
      const kept = Buffer.from('a bundle used since');
      const keptSha = createHash('sha256').update(kept).digest('hex');
      await bundlesOf(stores).put(sha, pieces(large), 10 * MiB, () => 1_000);
      await bundlesOf(stores).put(keptSha, pieces(kept), 10 * MiB, () => 9_000);
      expect(await bundlesOf(stores).removeUnused(5_000, new Set())).toEqual({
        count: 1,
        bytes: large.length,
      });
      expect(await rows(schema)).toEqual({
        chunks: [{ idx: 0, bytes: kept.length }],
        bundles: [{ sha256: keptSha, size: String(kept.length), chunks: 1 }],
      });
    } finally {
      await dropSchema(schema);
    }
  });

  it('heals a bundle one of whose chunk rows is missing: its read fails VK_BUNDLE_DAMAGED and removes it', async () => {
    const schema = uniqueSchema();
    try {
      await using stores = await openPostgresStores(postgresUrl, { schema });
      const bundles = bundlesOf(stores);
      await bundles.put(sha, pieces(large), 10 * MiB, usedAt);
      await withRawClient((client) => client.query(`DELETE FROM "${schema}".bundle_chunks WHERE idx = 1`));
      const read = (async () => {
        for await (const _piece of bundles.read(sha));
      })();
      // VK_STORE left it stored: HEAD answered 200, so no submit uploaded it again, and every fetch failed.
      await expect(read).rejects.toMatchObject({ code: 'VK_BUNDLE_DAMAGED' });
      expect(await bundles.has(sha)).toBe(false);
      expect(await rows(schema)).toEqual({ chunks: [], bundles: [] });
    } finally {
      await dropSchema(schema);
    }
  });

  it('leaves no rows of a refused upload, nor of one still running when the store closes', async () => {
    const schema = uniqueSchema();
    try {
      const stores = await openPostgresStores(postgresUrl, { schema });
      const bundles = bundlesOf(stores);
      const tampered = Buffer.concat([large.subarray(0, 2 * MiB), Buffer.from('!')]);
      await expect(bundles.put(sha, pieces(tampered), 10 * MiB, usedAt)).rejects.toMatchObject({
        code: 'VK_BUNDLE_HASH_MISMATCH',
      });
      await expect(bundles.put(sha, pieces(large), MiB, usedAt)).rejects.toMatchObject({
        code: 'VK_BODY_TOO_LARGE',
      });
      expect(await rows(schema)).toEqual({ chunks: [], bundles: [] });

      let chunksWritten = () => {};
      const halfway = new Promise<void>((resolve) => {
        chunksWritten = resolve;
      });
      let resume = () => {};
      const resumed = new Promise<void>((resolve) => {
        resume = resolve;
      });
      async function* stalled() {
        yield large.subarray(0, 2 * MiB);
        // Pulled again only once the first two chunks' inserts have finished.
        yield large.subarray(2 * MiB, 2 * MiB + 1);
        chunksWritten();
        await resumed;
        yield large.subarray(2 * MiB + 1);
      }
      const upload = bundles.put(sha, stalled(), 10 * MiB, usedAt);
      await halfway;
      await stores.close();
      expect(await rows(schema)).toEqual({ chunks: [], bundles: [] });
      // The upload learns of it with its next write.
      resume();
      await expect(upload).rejects.toMatchObject({ code: 'VK_STORE' });
      expect(await rows(schema)).toEqual({ chunks: [], bundles: [] });
    } finally {
      await dropSchema(schema);
    }
  });
});
