import pg from 'pg';
import { ValkyrieError } from '../../core/errors.js';
import { formatDelay } from '../../core/retry-delay.js';
import { toStoreError } from './errors.js';
import { GroupCommit } from './group-commit.js';
import type { ServerConnections } from './server-connections.js';
import { storableValues } from './text-values.js';
import { UnansweredCalls, type UnansweredWatch } from './unanswered-calls.js';

/**
 * A statement with a name: node-postgres prepares it once per pooled connection, so the server parses
 * and plans the engine's hot statements (job updates, log appends) once instead of on every call.
 */
export interface Statement {
  readonly name: string;
  readonly text: string;
}

export type Query = <R extends pg.QueryResultRow>(
  statement: Statement,
  values: readonly unknown[],
) => Promise<pg.QueryResult<R>>;

/** How a write's statements run this time (a batch that failed is applied again one write at a time). */
export interface WriteTurn {
  /**
   * Each statement commits on its own, in no transaction that another write shares: the write ran
   * alone and is not atomic. A statement may then choose how its own commit is made.
   */
  readonly autocommit: boolean;
  /**
   * The runs (ids) whose rows this transaction holds, found writable by the run fence (run-fence.ts):
   * a later write of one of them in the same transaction need not check again. Empty at the start of
   * every transaction, also when a failed batch is applied again.
   */
  readonly heldRuns: Set<string>;
}

/** A write's statements, given `query` to run them; it resolves once they are done. */
export type WriteWork<T> = (query: Query, turn: WriteTurn) => Promise<T>;

/**
 * The pool behind both stores, and the order of their calls. Writes are applied in the order they are
 * made through one group-commit lane; a read first waits until every write made before it has
 * committed (or failed), then runs on any free connection, so reads run in parallel with each other
 * and may also see writes made while they run. Failures become catalog errors: a ValkyrieError the
 * work throws passes through, anything else becomes VK_STORE.
 */
export class PostgresDatabase {
  readonly #pool: pg.Pool;
  readonly #commits: GroupCommit;
  /**
   * Lanes of their own for queue claims and queue completions (with renewals and releases, the other
   * writes to leased rows), so that their transactions overlap each other and the submissions on the
   * main lane instead of queueing behind them. Claims touch only queued rows and completions only
   * leased ones; each lane keeps its own order. (A completion racing another process's writes to a
   * lease that expired and moved may still meet a deadlock; Postgres ends one transaction, and the
   * group commit applies that batch again one write at a time, each again if it lost a deadlock.)
   */
  readonly #lanes: Record<QueueLane, GroupCommit>;
  /** The reads under way, each with when it was made (Date.now()). */
  readonly #reads = new Map<Promise<void>, number>();
  readonly #query: Query;
  readonly #server: string;
  readonly #unanswered: UnansweredCalls | undefined;
  readonly #connections: ServerConnections;
  #closing: Promise<void> | undefined;

  /**
   * `server` (host:port) names it in what `unanswered` is told and in cut()'s error; `connections`
   * has tracked `pool` from before its first connection (open.ts).
   */
  constructor(
    pool: pg.Pool,
    options: {
      readonly server: string;
      readonly connections: ServerConnections;
      readonly unanswered?: UnansweredWatch | undefined;
    },
  ) {
    const { server, connections, unanswered } = options;
    this.#pool = pool;
    this.#server = server;
    this.#connections = connections;
    this.#commits = new GroupCommit(pool);
    this.#lanes = { claims: new GroupCommit(pool), completions: new GroupCommit(pool) };
    this.#query = (statement, values) =>
      pool.query({ name: statement.name, text: statement.text, values: storableValues(values) });
    this.#unanswered =
      unanswered === undefined
        ? undefined
        : new UnansweredCalls(server, () => this.#oldestCall(), unanswered);
  }

  /** When the oldest write batch or read still waiting for Postgres was made; undefined when none is. */
  #oldestCall(): number | undefined {
    let oldest: number | undefined;
    for (const lane of [this.#commits, this.#lanes.claims, this.#lanes.completions]) {
      const since = lane.busySince;
      if (since !== undefined && (oldest === undefined || since < oldest)) oldest = since;
    }
    for (const since of this.#reads.values()) if (oldest === undefined || since < oldest) oldest = since;
    return oldest;
  }

  /** A connection of its own, outside the pool, for LISTEN; the caller ends it. */
  dedicatedClient(): pg.Client {
    // Keepalive probes: a connection whose server has gone silent ends instead of waiting forever.
    const client = new this.#connections.Client({
      ...this.#pool.options,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // A dropped connection must not crash the process; the listener notices through 'end'.
    client.on('error', () => {});
    return client;
  }

  /**
   * A pool of its own on the same server and schema, with at most `max` connections, for work that
   * must neither hold the engine's connections nor queue behind its writes; the caller ends it.
   */
  separatePool(max: number): pg.Pool {
    // The options carry the tracked Client class along (ServerConnections).
    const pool = this.#connections.track(new pg.Pool({ ...this.#pool.options, max }));
    pool.on('error', () => {});
    return pool;
  }

  /**
   * `atomic`: the work runs several statements that must commit together even when it runs alone.
   * `lane`: ordered only with other writes of that lane (see #lanes).
   */
  write<T>(action: string, work: WriteWork<T>, options?: { atomic?: boolean; lane?: QueueLane }): Promise<T> {
    if (this.#closing !== undefined) return Promise.reject(closedError(action));
    const lane = options?.lane === undefined ? this.#commits : this.#lanes[options.lane];
    return lane.write(action, work, options?.atomic === true);
  }

  /** A write of several statements that commit together (or not at all), in the same order as writes. */
  transaction<T>(action: string, work: (query: Query) => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) return Promise.reject(closedError(action));
    return this.#commits.write(action, work, true);
  }

  /**
   * GroupCommit.mark of the ordered writes (write and transaction, no lane): a write requested when
   * it was this value is still the last one while it stays so. Undefined once closing.
   */
  get writeMark(): number | undefined {
    return this.#closing === undefined ? this.#commits.mark : undefined;
  }

  read<T>(action: string, work: (query: Query) => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) return Promise.reject(closedError(action));
    // Tracked through a separate signal: a handler on the caller's promise would hide its rejection.
    let finished = () => {};
    const running = new Promise<void>((resolve) => {
      finished = resolve;
    });
    this.#reads.set(running, Date.now());
    return (async () => {
      try {
        await this.#allSettled();
        return await work(this.#query);
      } catch (error) {
        throw toStoreError(action, error);
      } finally {
        this.#reads.delete(running);
        finished();
      }
    })();
  }

  #allSettled(): Promise<unknown> {
    return Promise.all([
      this.#commits.settled(),
      this.#lanes.claims.settled(),
      this.#lanes.completions.settled(),
    ]);
  }

  /**
   * Idempotent: refuses new calls at once, lets every write and read already made finish (pg-pool's
   * own `end` would leave callers queued for a connection waiting forever), then closes the pool.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#allSettled();
      try {
        await Promise.all(this.#reads.keys());
        // cut() has ended the pool already, and pg-pool refuses a second end.
        if (!this.#connections.isCut) await this.#pool.end();
      } finally {
        this.#unanswered?.stop();
      }
    })();
    return this.#closing;
  }

  /**
   * Gives up on a server that stopped answering, `afterMs` after closing began, so that closing can
   * finish: every pool is ended (a call that needs a connection fails at once) and every connection's
   * socket destroyed, so the calls waiting on one fail now, each with its caller told. Nothing is
   * half-written: a transaction Postgres did not commit is rolled back when its connection goes.
   * Returns the error that says so.
   */
  cut(afterMs: number): ValkyrieError {
    this.#connections.cut();
    return new ValkyrieError(
      'VK_STORE_UNREACHABLE',
      `Postgres at ${this.#server} did not answer within ${formatDelay(afterMs)} of closing the store, so its ` +
        'connections were cut: the writes it had not committed were not made, and their callers were told',
    );
  }
}

export type QueueLane = 'claims' | 'completions';

function closedError(action: string): ValkyrieError {
  return new ValkyrieError('VK_STORE', `could not ${action}: the store is closed`);
}
