import type pg from 'pg';
import type { PostgresDatabase } from './database.js';

/**
 * The channel enqueues and requeues notify, one per schema so that stores sharing a database do not
 * wake each other. NOTIFY's channel is limited to 63 bytes, hence a hash of the schema name.
 */
export const queueChannelSql = "'vk_queue_' || left(md5(current_schema()), 16)";

/** The server process behind a LISTEN connection: a hand-off waiter is live while it is. */
export interface ListenerBackend {
  readonly pid: number;
  /** Its start time as Postgres prints a timestamptz (exact to the microsecond). */
  readonly start: string;
}

export interface QueueListenerEvents {
  /** A notification on the queue channel, with its payload ('' for a plain wake-up). */
  readonly onNotify: (payload: string) => void;
  /** The connection dropped: notifications may have been missed. */
  readonly onLost: () => void;
}

/**
 * One LISTEN connection per store, opened on the first wait and kept: NOTIFY is delivered on commit,
 * so a waiter wakes within a round trip of an enqueue in any process, without polling. When the
 * connection drops, `onLost` says so (waiters look at the queue again) and the next wait reconnects.
 */
export class QueueListener {
  readonly #db: PostgresDatabase;
  readonly #events: QueueListenerEvents;
  #connecting: Promise<{ client: pg.Client; backend: ListenerBackend }> | undefined;
  #closed = false;

  constructor(db: PostgresDatabase, events: QueueListenerEvents) {
    this.#db = db;
    this.#events = events;
  }

  /** Resolves once notifications are being received, with the backend that receives them. */
  listening(): Promise<ListenerBackend> {
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    this.#connecting ??= this.#connect().catch((error: unknown) => {
      this.#connecting = undefined;
      throw error;
    });
    return this.#connecting.then(({ backend }) => backend);
  }

  /** Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const connecting = this.#connecting;
    this.#connecting = undefined;
    const connected = await connecting?.catch(() => undefined);
    await connected?.client.end().catch(() => {});
  }

  async #connect(): Promise<{ client: pg.Client; backend: ListenerBackend }> {
    const client = this.#db.dedicatedClient();
    await client.connect();
    try {
      const { rows } = await client.query<{ channel: string; pid: number; start: string }>(
        `SELECT ${queueChannelSql} AS channel, pid, backend_start::text AS start
         FROM pg_stat_get_activity(pg_backend_pid())`,
      );
      const row = rows[0];
      if (row === undefined) throw new Error('could not name the queue channel');
      client.on('notification', (message) => this.#events.onNotify(message.payload ?? ''));
      client.on('end', () => {
        this.#connecting = undefined;
        this.#events.onLost();
      });
      await client.query(`LISTEN "${row.channel}"`);
      return { client, backend: { pid: row.pid, start: row.start } };
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
  }
}
