import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { ValkyrieError } from '../../core/errors.js';
import {
  type BundleStore,
  bundleNotFound,
  checkBundleHash,
  checkedCopy,
  meteredBody,
  type RemovedBundles,
} from '../bundles.js';
import { textArrayLiteral } from './array-literal.js';
import type { PostgresDatabase } from './database.js';
import { toStoreError } from './errors.js';

/** Rows of 1 MiB: an upload or a download holds about one at a time, whatever the bundle's size. */
export const bundleChunkBytes = 1024 * 1024;

/**
 * Reads are one short query per chunk: a slow runner downloading a large bundle holds no connection
 * between chunks, and a few pooled connections serve many downloads. Touches and sweeps are short
 * statements on the same pool.
 */
const readConnections = 2;

const sql = {
  has: 'SELECT 1 FROM bundles WHERE sha256 = $1',
  // created_at tells this copy from one a put stores after it is found damaged and removed.
  storedCopy: 'SELECT size, chunks, created_at FROM bundles WHERE sha256 = $1',
  storedBytes:
    'SELECT coalesce(sum(octet_length(data)), 0)::bigint AS bytes FROM bundle_chunks WHERE sha256 = $1',
  removeDamaged: `WITH gone AS (DELETE FROM bundles WHERE sha256 = $1 AND created_at = $2 RETURNING sha256)
                  DELETE FROM bundle_chunks WHERE sha256 IN (SELECT sha256 FROM gone)`,
  chunk: 'SELECT data FROM bundle_chunks WHERE sha256 = $1 AND idx = $2',
  // A concurrent upload of the same bundle waits here on the other's uncommitted row, then skips it
  // once that one committed, or writes its own once that one rolled back.
  insertChunk: 'INSERT INTO bundle_chunks (sha256, idx, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
  insertBundle: `INSERT INTO bundles (sha256, size, chunks, created_at, last_used_at)
                 VALUES ($1, $2, $3, (extract(epoch FROM clock_timestamp()) * 1000)::bigint, $4)
                 ON CONFLICT DO NOTHING`,
  /**
   * An upload of a stored bundle holds its row while the body arrives: removeUnused's FOR UPDATE SKIP
   * LOCKED passes over it, so the upload's last use, read at its end, is never of a removed bundle;
   * touches (a no-key update) do not wait for it. A row a removal holds is waited for, then not found.
   */
  holdBundle: 'SELECT 1 FROM bundles WHERE sha256 = $1 FOR KEY SHARE',
  // The row lock orders a touch with a removal of the same bundle (removeUnused below).
  touch: 'UPDATE bundles SET last_used_at = greatest(last_used_at, $2) WHERE sha256 = $1',
  /**
   * One batch of a sweep, in one statement (so one transaction): the rows and their chunks together.
   * FOR UPDATE re-reads a row that a touch committed meanwhile and drops it if it is no longer old
   * enough; SKIP LOCKED passes over the rows another sweep or a touch holds, so concurrent sweeps
   * split the work instead of waiting on each other, and a bundle being touched is not removed.
   */
  removeUnused: `WITH gone AS (
                   DELETE FROM bundles WHERE sha256 IN (
                     SELECT sha256 FROM bundles WHERE last_used_at < $1 AND sha256 <> ALL ($2::text[])
                     ORDER BY last_used_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                   RETURNING sha256, size),
                 chunks AS (DELETE FROM bundle_chunks WHERE sha256 IN (SELECT sha256 FROM gone))
                 SELECT count(*)::int AS count, coalesce(sum(size), 0)::bigint AS bytes FROM gone`,
} as const;

/** Bundles removed per statement: a sweep of many holds no lock on all of them at once. */
const removalBatch = 20;

/**
 * BundleStore in the shared Postgres schema (tables `bundles` and `bundle_chunks`, bundle-migration.ts),
 * so that every replica serves the bundles any of them received.
 *
 * An upload runs in one transaction on a connection of its own, opened for it and closed after it
 * (an upload lasts as long as the client takes to send it, so it must not hold one of the engine's
 * connections, nor wait for a free one behind other uploads). It inserts the chunks as they arrive,
 * then — only once the bytes hashed to the name — the `bundles` row, and commits: until then no
 * other connection sees any of it. An upload of a bundle already stored reads and checks the body
 * holding the bundle's row (sql.holdBundle), then records the use; it first checks the stored copy
 * (isWhole) and removes a damaged one in its transaction, so its own chunks replace it. A failure, an over-size body or a wrong hash ends the connection,
 * and Postgres rolls the transaction back.
 */
export class PostgresBundleStore implements BundleStore {
  readonly #db: PostgresDatabase;
  readonly #reads: pg.Pool;
  readonly #uploads = new Set<pg.Client>();
  #closing: Promise<void> | undefined;

  constructor(db: PostgresDatabase) {
    this.#db = db;
    // Connections are opened on first use: a store that never serves a bundle opens none.
    this.#reads = db.separatePool(readConnections);
  }

  async has(sha256: string): Promise<boolean> {
    const { rowCount } = await this.#read(`look up bundle ${sha256}`, sql.has, [sha256]);
    return rowCount === 1;
  }

  async put(
    sha256: string,
    body: AsyncIterable<Uint8Array>,
    maxBytes: number,
    usedAt: () => number,
  ): Promise<'created' | 'existed'> {
    const hash = createHash('sha256');
    return this.#upload(sha256, meteredBody(body, maxBytes, hash), hash, usedAt);
  }

  async touch(sha256: string, at: number): Promise<boolean> {
    const { rowCount } = await this.#read(`record a use of bundle ${sha256}`, sql.touch, [sha256, at]);
    return rowCount === 1;
  }

  read(sha256: string): Readable {
    return Readable.from(this.#chunks(sha256), { objectMode: false });
  }

  async removeUnused(usedBefore: number, keep: ReadonlySet<string>): Promise<RemovedBundles> {
    const kept = textArrayLiteral([...keep]);
    let count = 0;
    let bytes = 0;
    for (;;) {
      const { rows } = await this.#read<{ count: number; bytes: string }>(
        'remove unused bundles',
        sql.removeUnused,
        [usedBefore, kept, removalBatch],
      );
      const removed = rows[0]?.count ?? 0;
      count += removed;
      bytes += Number(rows[0]?.bytes ?? 0);
      // A short batch means no unlocked candidate is left (locked ones are another sweep's, or in use).
      if (removed < removalBatch) return { count, bytes };
    }
  }

  /**
   * Idempotent: ends the connections of uploads still running (each rolls back, so nothing of them
   * is stored) and the read pool, once its queries in flight have finished.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#uploads].map((client) => client.end().catch(() => {})));
      await this.#reads.end();
    })();
    return this.#closing;
  }

  async #upload(
    sha256: string,
    pieces: AsyncIterable<Buffer>,
    hash: Hash,
    usedAt: () => number,
  ): Promise<'created' | 'existed'> {
    const action = `store bundle ${sha256}`;
    this.#assertOpen(action);
    const client = this.#db.dedicatedClient();
    this.#uploads.add(client);
    // Only the database's failures become VK_STORE; the body's own errors pass through as they are.
    const query = (text: string, values: unknown[] = []) =>
      client.query(text, values).catch((error: unknown) => {
        throw toStoreError(action, error);
      });
    try {
      await client.connect().catch((error: unknown) => {
        throw toStoreError(action, error);
      });
      await query('BEGIN');
      const stored = (await query(sql.storedCopy, [sha256])).rows[0] as StoredCopy | undefined;
      // Removed in this transaction, so this upload's chunks and row take its place as it commits;
      // a concurrent upload that found it damaged too waits, then removes nothing and finds this one.
      if (stored !== undefined && !(await isWhole(sha256, stored, (text, values) => query(text, values))))
        await query(sql.removeDamaged, [sha256, stored.created_at]);
      if ((await query(sql.holdBundle, [sha256])).rowCount === 1) {
        for await (const _piece of pieces);
        checkBundleHash(sha256, hash);
        await query(sql.touch, [sha256, usedAt()]);
        await query('COMMIT');
        return 'existed';
      }
      let chunks = 0;
      let size = 0;
      for await (const chunk of inChunks(pieces, bundleChunkBytes)) {
        await query(sql.insertChunk, [sha256, chunks, chunk]);
        chunks++;
        size += chunk.length;
      }
      checkBundleHash(sha256, hash);
      const at = usedAt();
      const inserted = await query(sql.insertBundle, [sha256, size, chunks, at]);
      // Another upload stored it first (the insert waited for it to commit): this one is a use of it.
      if (inserted.rowCount !== 1) await query(sql.touch, [sha256, at]);
      await query('COMMIT');
      return inserted.rowCount === 1 ? 'created' : 'existed';
    } finally {
      this.#uploads.delete(client);
      // Without a COMMIT, ending the connection rolls the transaction back.
      await client.end().catch(() => {});
    }
  }

  async *#chunks(sha256: string): AsyncGenerator<Buffer> {
    const action = `read bundle ${sha256}`;
    const head = await this.#read<StoredCopy>(action, sql.storedCopy, [sha256]);
    const stored = head.rows[0];
    if (stored === undefined) throw bundleNotFound(sha256);
    yield* checkedCopy(sha256, this.#storedChunks(action, sha256, stored), () =>
      this.#read(`remove damaged bundle ${sha256}`, sql.removeDamaged, [sha256, stored.created_at]),
    );
  }

  /** The chunks of the copy `stored`, in order, up to the first one missing from it (damage). */
  async *#storedChunks(action: string, sha256: string, stored: StoredCopy): AsyncGenerator<Buffer> {
    // A stored bundle's bytes never change (a copy that replaces a damaged one has the same), so
    // reading it chunk by chunk needs no snapshot.
    for (let index = 0; index < stored.chunks; index++) {
      const { rows } = await this.#read<{ data: Buffer }>(action, sql.chunk, [sha256, index]);
      const data = rows[0]?.data;
      if (data === undefined) {
        // Gone with its row (a sweep, perhaps followed by a new upload): absent, not damaged. Still
        // this copy's row: the copy itself lacks the chunk, is damaged, and heals as a wrong byte does.
        // Left stored, HEAD would keep answering 200, so no submit would upload it again.
        if (!(await this.#isStill(action, sha256, stored)))
          throw new ValkyrieError(
            'VK_STORE',
            `could not ${action}: its chunk ${index} of ${stored.chunks} is missing`,
          );
        return;
      }
      yield data;
    }
  }

  /** Whether the bundle's row is still `stored`'s: no sweep or upload replaced the copy since it was read. */
  async #isStill(action: string, sha256: string, stored: StoredCopy): Promise<boolean> {
    const now = await this.#read<StoredCopy>(action, sql.storedCopy, [sha256]);
    return now.rows[0]?.created_at === stored.created_at;
  }

  async #read<R extends pg.QueryResultRow>(
    action: string,
    text: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    this.#assertOpen(action);
    try {
      return await this.#reads.query<R>(text, values);
    } catch (error) {
      throw toStoreError(action, error);
    }
  }

  #assertOpen(action: string): void {
    if (this.#closing !== undefined)
      throw new ValkyrieError('VK_STORE', `could not ${action}: the store is closed`);
  }
}

/** A `bundles` row as sql.storedCopy reads it (bigints as text). */
interface StoredCopy {
  readonly size: string;
  readonly chunks: number;
  readonly created_at: string;
}

type Query = (text: string, values: unknown[]) => Promise<pg.QueryResult>;

/**
 * Whether the stored copy's chunks hash to its name. Cheap first: chunks that add up to another size
 * than its row's are damage without reading them; only a copy of the right size is read and hashed.
 */
async function isWhole(sha256: string, stored: StoredCopy, query: Query): Promise<boolean> {
  const { rows } = await query(sql.storedBytes, [sha256]);
  if (String(rows[0]?.bytes) !== stored.size) return false;
  const hash = createHash('sha256');
  for (let index = 0; index < stored.chunks; index++) {
    const data: unknown = (await query(sql.chunk, [sha256, index])).rows[0]?.data;
    if (!Buffer.isBuffer(data)) return false;
    hash.update(data);
  }
  return hash.digest('hex') === sha256;
}

/** `pieces` regrouped into chunks of exactly `size` bytes, the last one shorter; none for no bytes. */
async function* inChunks(pieces: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  for await (const piece of pieces) {
    held.push(piece);
    heldBytes += piece.length;
    if (heldBytes < size) continue;
    let joined = Buffer.concat(held, heldBytes);
    while (joined.length >= size) {
      yield joined.subarray(0, size);
      joined = joined.subarray(size);
    }
    held = joined.length > 0 ? [joined] : [];
    heldBytes = joined.length;
  }
  if (heldBytes > 0) yield Buffer.concat(held, heldBytes);
}
