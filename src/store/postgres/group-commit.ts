import type pg from 'pg';
import type { Query, WriteTurn, WriteWork } from './database.js';
import { pgCode, toStoreError } from './errors.js';
import { storableValues } from './text-values.js';

interface PendingWrite {
  readonly action: string;
  readonly work: WriteWork<unknown>;
  /** The work runs several statements that must commit together, so it never runs in autocommit. */
  readonly transactional: boolean;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const ignore = () => {};

/**
 * Bounds a transaction: its locks (a workflow's run counter, say) block other replicas until it
 * commits, and a failing statement makes the whole batch be applied again one write at a time.
 */
const maxBatchWrites = 256;

/**
 * Group commit: the writes requested in one turn of the event loop (and any requested while the
 * previous batch commits) are applied in the order they were requested, on one connection, inside one
 * transaction; each caller's promise settles only after that transaction has committed. One write
 * alone runs without BEGIN and COMMIT, unless it is transactional (several statements).
 *
 * A failing statement aborts a Postgres transaction, so a batch in which one fails is rolled back and
 * applied again one write per transaction: the failing write (an unknown job, say) rejects alone, and
 * the writes before and after it commit in order; a write Postgres ended to break a deadlock is
 * applied again (applyAlone). Batches never overlap, which is what keeps the order.
 * More writes than one batch takes wait for the next, which starts as soon as this one has settled.
 */
export class GroupCommit {
  readonly #pool: pg.Pool;
  #pending: PendingWrite[] = [];
  #queued = false;
  /** The chain of batches; never rejects. */
  #tail: Promise<void> = Promise.resolve();
  /** Settles with the most recent write; writes settle in order, so then all earlier ones have too. */
  #lastWrite: Promise<void> = Promise.resolve();
  #mark = 0;
  #busySince: number | undefined;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  /** Changes with every write requested: a write is still the last one while the mark is the same. */
  get mark(): number {
    return this.#mark;
  }

  /** `transactional`: the work has several statements, and they must commit together. */
  write<T>(action: string, work: WriteWork<T>, transactional = false): Promise<T> {
    this.#mark++;
    // A separate signal rather than a handler on `done`, which would hide a rejection the caller drops.
    let settle = ignore;
    this.#lastWrite = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const done = new Promise<T>((resolve, reject) => {
      this.#pending.push({
        action,
        work,
        transactional,
        resolve: (value) => {
          settle();
          resolve(value as T);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
    });
    if (!this.#queued) {
      this.#queued = true;
      this.#tail = this.#tail.then(nextTurn).then(() => this.#commitPending());
    }
    return done;
  }

  /** Settles once every write requested so far has committed or failed. */
  settled(): Promise<void> {
    return this.#lastWrite;
  }

  /** When the batch under way started (Date.now()), waiting for a connection included; none: undefined. */
  get busySince(): number | undefined {
    return this.#busySince;
  }

  async #commitPending(): Promise<void> {
    const writes = this.#pending.splice(0, maxBatchWrites);
    if (this.#pending.length === 0) this.#queued = false;
    else this.#tail = this.#tail.then(() => this.#commitPending());
    this.#busySince = Date.now();
    try {
      await this.#commit(writes);
    } finally {
      this.#busySince = undefined;
    }
  }

  async #commit(writes: readonly PendingWrite[]): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      for (const write of writes) write.reject(toStoreError(write.action, error));
      return;
    }
    // A checked-out client whose connection drops emits 'error', which crashes the process when no
    // one listens (the pool listens only while the client is idle); the statement under way is
    // rejected with the same error, and that rejection is what the writes get.
    client.on('error', ignoreError);
    let outcomes: readonly Outcome[];
    try {
      outcomes =
        ((writes.length > 1 || writes.some((write) => write.transactional)) &&
          (await inOneTransaction(client, writes))) ||
        (await oneByOne(client, writes));
      client.removeListener('error', ignoreError);
      client.release();
    } catch (error) {
      // BEGIN, COMMIT or ROLLBACK failed: the connection is gone or in an unknown state.
      client.removeListener('error', ignoreError);
      client.release(true);
      for (const write of writes) write.reject(toStoreError(write.action, error));
      return;
    }
    writes.forEach((write, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) write.resolve(outcome.value);
      else write.reject(toStoreError(write.action, outcome?.error));
    });
  }
}

/** The batch's outcomes once committed, or undefined when a statement failed and it was rolled back. */
async function inOneTransaction(
  client: pg.PoolClient,
  writes: readonly PendingWrite[],
): Promise<Outcome[] | undefined> {
  await client.query('BEGIN');
  const outcomes: Outcome[] = [];
  const heldRuns = new Set<string>();
  for (const write of writes) {
    const { outcome, statementFailed } = await apply(client, write, { autocommit: false, heldRuns });
    if (statementFailed) {
      await client.query('ROLLBACK');
      return undefined;
    }
    outcomes.push(outcome);
  }
  await client.query('COMMIT');
  return outcomes;
}

/** Each write in its own transaction: autocommit for one statement, BEGIN … COMMIT for several. */
async function oneByOne(client: pg.PoolClient, writes: readonly PendingWrite[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const write of writes) outcomes.push(await applyAlone(client, write));
  return outcomes;
}

/**
 * Postgres ends one transaction of a deadlock (SQLSTATE 40P01, raised by a statement waiting for a
 * lock) so that the others can go on; nothing of the ended one is kept, and applying it again once
 * they have is what the server asks. Bounded: a write that keeps meeting one fails with the server's
 * error. (Serialization failures, 40001, are not retried: the stores' transactions run at Postgres's
 * default isolation, READ COMMITTED, where they do not arise.)
 */
const deadlockDetected = '40P01';
const maxDeadlockTries = 5;

/**
 * The wait before applying a write again, a little longer each time and jittered: a write applied at
 * once can take the row the surviving transaction was about to get, and meet the same deadlock again
 * (seen on a loaded machine: three tries, three deadlocks). Milliseconds: deadlocks are rare.
 */
function deadlockBackoffMs(attempt: number): number {
  return attempt * 5 + Math.random() * 5 * attempt;
}

/** One write in a transaction of its own, applied again when Postgres ended it to break a deadlock. */
async function applyAlone(client: pg.PoolClient, write: PendingWrite): Promise<Outcome> {
  for (let attempt = 1; ; attempt++) {
    const turn: WriteTurn = { autocommit: !write.transactional, heldRuns: new Set() };
    if (write.transactional) await client.query('BEGIN');
    const { outcome, statementFailed } = await apply(client, write, turn);
    if (write.transactional) await client.query(outcome.ok ? 'COMMIT' : 'ROLLBACK');
    const deadlocked = statementFailed && !outcome.ok && pgCode(outcome.error) === deadlockDetected;
    if (!deadlocked || attempt === maxDeadlockTries) return outcome;
    await new Promise((resolve) => setTimeout(resolve, deadlockBackoffMs(attempt)));
  }
}

/**
 * Runs one write's work. `statementFailed` tells a failed statement, which aborts the transaction,
 * from a write that rejected on its own (e.g. VK_JOB_NOT_FOUND after an UPDATE matched no row).
 */
async function apply(
  client: pg.PoolClient,
  write: PendingWrite,
  turn: WriteTurn,
): Promise<{ outcome: Outcome; statementFailed: boolean }> {
  let statementFailed = false;
  const query: Query = async (statement, values) => {
    try {
      return await client.query({
        name: statement.name,
        text: statement.text,
        values: storableValues(values),
      });
    } catch (error) {
      statementFailed = true;
      throw error;
    }
  };
  try {
    return { outcome: { ok: true, value: await write.work(query, turn) }, statementFailed };
  } catch (error) {
    return { outcome: { ok: false, error }, statementFailed };
  }
}

const ignoreError = (): void => {};
