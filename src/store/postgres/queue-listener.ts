import type pg from 'pg';
import type { WorkSignal } from '../work-signal.js';
import type { PostgresDatabase } from './database.js';

/**
 * The channel enqueues and requeues notify, one per schema so that stores sharing a database do not
 * wake each other. NOTIFY's channel is limited to 63 bytes, hence a hash of the schema name.
 */
export const queueChannelSql = "'vk_queue_' || left(md5(current_schema()), 16)";

/**
 * One LISTEN connection per store, opened on the first wait and kept: NOTIFY is delivered on commit,
 * so a waiter wakes within a round trip of an enqueue in any process, without polling. When the
 * connection drops, every waiter is woken (to look at the queue again) and the next wait reconnects.
 */
export class QueueListener {
  readonly #db: PostgresDatabase;
  readonly #signal: WorkSignal;
  #connecting: Promise<pg.Client> | undefined;
  #closed = false;

  constructor(db: PostgresDatabase, signal: WorkSignal) {
    this.#db = db;
    this.#signal = signal;
  }

  /** Resolves once notifications are being received. */
  listening(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    this.#connecting ??= this.#connect().catch((error: unknown) => {
      this.#connecting = undefined;
      throw error;
    });
    return this.#connecting.then(() => undefined);
  }

  /** Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const connecting = this.#connecting;
    this.#connecting = undefined;
    const client = await connecting?.catch(() => undefined);
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<pg.Client> {
    const client = this.#db.dedicatedClient();
    await client.connect();
    try {
      const { rows } = await client.query<{ channel: string }>(`SELECT ${queueChannelSql} AS channel`);
      const channel = rows[0]?.channel;
      if (channel === undefined) throw new Error('could not name the queue channel');
      client.on('notification', () => this.#signal.wake());
      client.on('end', () => {
        this.#connecting = undefined;
        this.#signal.wake();
      });
      await client.query(`LISTEN "${channel}"`);
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
  }
}
