import pg from 'pg';

/**
 * Every connection made to one Postgres server — by its pools and outside them — so that all of them
 * can be cut at once when the server stops answering (PostgresDatabase.cut). Connections are counted
 * from their creation, through the `Client` class the pools are given: one still waiting for the
 * server's handshake is cut too.
 */
export class ServerConnections {
  readonly #pools: pg.Pool[] = [];
  readonly #clients = new Set<pg.Client>();
  #cut = false;
  /** For `new pg.Pool({ Client })` and connections of their own: each adds itself as it is made. */
  readonly Client: typeof pg.Client;

  constructor() {
    const connections = this;
    this.Client = class TrackedClient extends pg.Client {
      constructor(config?: string | pg.ClientConfig) {
        super(config);
        connections.#adopt(this);
      }
    };
  }

  /** A pool to end at the cut; its connections must come from `Client`. */
  track(pool: pg.Pool): pg.Pool {
    this.#pools.push(pool);
    return pool;
  }

  #adopt(client: pg.Client): void {
    if (this.#cut) {
      client.connection.stream.destroy();
      return;
    }
    this.#clients.add(client);
    client.once('end', () => this.#clients.delete(client));
  }

  /** Whether cut() was called: the pools are ended then, and pg-pool refuses a second end. */
  get isCut(): boolean {
    return this.#cut;
  }

  /**
   * Ends every pool (a call that asks it for a connection fails at once) and destroys every
   * connection's socket (a call waiting on one fails now, "Connection terminated unexpectedly").
   */
  cut(): void {
    this.#cut = true;
    for (const pool of this.#pools) pool.end().catch(() => {});
    for (const client of this.#clients) client.connection.stream.destroy();
  }
}
