import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStores } from '../../src/store/sqlite/index.js';
import { claimedLease, claimStatements, readReadyJobs, ready } from '../../src/store/sqlite/queue-claims.js';
import type { Stores } from '../../src/store/store.js';
import { tempDir } from './factories.js';

let dir = '';
let removeDir = async () => {};
let stores: Stores | undefined;
beforeEach(async () => {
  ({ dir, remove: removeDir } = await tempDir());
});
afterEach(async () => {
  await stores?.close();
  stores = undefined;
  await removeDir();
});

describe('SQLite queue: the claim read', () => {
  it('reads ready jobs as lists, in queue order, each with its own payload', async () => {
    const path = join(dir, 'state.db');
    stores = openSqliteStores(path);
    await stores.queue.enqueue([
      { task: 'a', payload: { text: 'one, "two"' } },
      { task: 'b', payload: [1, null] },
      { task: 'c', payload: 'three', priority: 'high' },
    ]);
    const db = new Database(path);
    try {
      const { rows, payloads } = readReadyJobs(claimStatements(db, ready), Date.now(), [Date.now()], 10);
      expect(rows.map((row) => row[1])).toEqual(['c', 'a', 'b']);
      expect(rows.map((_, i) => payloads.at(i))).toEqual(['three', { text: 'one, "two"' }, [1, null]]);
    } finally {
      db.close();
    }
  });

  // Payloads that add up to more than one string can hold (about 512 MiB in V8, whose limit
  // better-sqlite3 gives SQLite) cannot be read as one list: SQLite says SQLITE_TOOBIG. Each claim
  // would fail so, and the jobs would never run. Here the list read is made to fail as it would,
  // rather than writing half a gigabyte.
  it('reads the jobs one by one when their lists are too large for one string', async () => {
    const path = join(dir, 'state.db');
    stores = openSqliteStores(path);
    await stores.queue.enqueue([
      { task: 'a', payload: { big: 'x'.repeat(1000) } },
      { task: 'b', payload: 2 },
    ]);
    const db = new Database(path);
    try {
      const statements = claimStatements(db, ready);
      const tooBig = new Database.SqliteError('string or blob too big', 'SQLITE_TOOBIG');
      const listsTooBig = {
        ...statements,
        readyLists: {
          get: () => {
            throw tooBig;
          },
        } as unknown as typeof statements.readyLists,
      };
      const { rows, payloads } = readReadyJobs(listsTooBig, Date.now(), [Date.now()], 10);
      expect(rows.map((row) => [row[1], row[2], row[3]])).toEqual([
        ['a', 0, 0],
        ['b', 0, 0],
      ]);
      expect(rows.map((_, i) => payloads.at(i))).toEqual([{ big: 'x'.repeat(1000) }, 2]);
      const otherFailure = {
        ...statements,
        readyLists: {
          get: () => {
            throw new Database.SqliteError('disk I/O error', 'SQLITE_IOERR');
          },
        } as unknown as typeof statements.readyLists,
      };
      expect(() => readReadyJobs(otherFailure, Date.now(), [Date.now()], 10)).toThrow('disk I/O error');
    } finally {
      db.close();
    }
  });

  // SQLite promises no order for group_concat: rows that come in another order than the queue's
  // are sorted, each keeping its own payload.
  it('sorts lists that come out of queue order, keeping each payload with its row', async () => {
    const path = join(dir, 'state.db');
    stores = openSqliteStores(path);
    const db = new Database(path);
    try {
      const statements = claimStatements(db, ready);
      // [seq, task, attempts, lease token, key]: b has the lower key, a and c share one.
      const rows = '[3,"c",0,0,5],[1,"a",0,0,5],[2,"b",0,0,-1]';
      const outOfOrder = {
        ...statements,
        readyLists: { get: () => [rows, '"pc","pa","pb"'] } as unknown as typeof statements.readyLists,
      };
      const read = readReadyJobs(outOfOrder, Date.now(), [Date.now()], 10);
      expect(read.rows.map((row) => row[1])).toEqual(['b', 'a', 'c']);
      expect(read.rows.map((_, i) => read.payloads.at(i))).toEqual(['pb', 'pa', 'pc']);
    } finally {
      db.close();
    }
  });

  // An engine claims mostly jobs it enqueued itself, whose inputs it holds: the payloads are parsed
  // only when a lease's payload is read, all of the claim's at once.
  it("parses the payloads only when a lease's payload is read", async () => {
    const path = join(dir, 'state.db');
    stores = openSqliteStores(path);
    const db = new Database(path);
    try {
      const statements = claimStatements(db, ready);
      const rows = '[1,"a",0,0,0],[2,"b",0,0,0]';
      const unreadable = {
        ...statements,
        readyLists: { get: () => [rows, '{"p":1},not json'] } as unknown as typeof statements.readyLists,
      };
      const read = readReadyJobs(unreadable, Date.now(), [Date.now()], 10);
      const leases = read.rows.map((_, i) => claimedLease(read, i, 'w', 1));
      expect(leases.map((lease) => [lease.jobId, lease.task, lease.token, lease.attempt])).toEqual([
        ['1', 'a', 1, 1],
        ['2', 'b', 1, 1],
      ]);
      expect(() => leases[0]?.payload).toThrow(SyntaxError);
    } finally {
      db.close();
    }
  });

  it('pairs each lease with its own payload, whichever is read first', async () => {
    const path = join(dir, 'state.db');
    stores = openSqliteStores(path);
    await stores.queue.enqueue([
      { task: 'a', payload: { n: 1 } },
      { task: 'b', payload: 'two' },
    ]);
    const leases = await stores.queue.claim({ worker: 'w', limit: 10, ttlMs: 60_000 });
    expect(leases[1]?.payload).toBe('two');
    expect(leases[0]?.payload).toEqual({ n: 1 });
    expect(leases.map((lease) => lease.task)).toEqual(['a', 'b']);
  });
});
