import { createHash } from 'node:crypto';
import type pg from 'pg';
import { ListenerSet } from '../../core/listener-set.js';
import { GroupWatchers } from '../group-watchers.js';
import { WorkSignal } from '../work-signal.js';
import type { PostgresDatabase } from './database.js';

/**
 * The channel enqueues and requeues notify, one per schema so that stores sharing a database do not
 * wake each other. NOTIFY's channel is limited to 63 bytes, hence a hash of the schema name.
 */
export const queueChannelSql = "'vk_queue_' || left(md5(current_schema()), 16)";

/** The channel concurrency-group changes notify, per schema as the queue's; the payload is `groupKey`. */
export const groupChannelSql = "'vk_group_' || left(md5(current_schema()), 16)";

/** The channel a requested run cancel notifies (RunRecoveryStore.requestCancel), per schema as the queue's. */
export const cancelChannelSql = "'vk_cancel_' || left(md5(current_schema()), 16)";

/** A group's name can be long (an expression's result), a NOTIFY payload at most 8000 bytes: a hash. */
export function groupKey(group: string): string {
  return createHash('md5').update(group).digest('hex');
}

/**
 * One LISTEN connection per set of stores, on every channel, opened on the first wait and kept: NOTIFY
 * is delivered on commit, so a waiter wakes within a round trip of a change in any process, without
 * polling. Queue notifications wake `work` (QueueStore.waitForWork); group ones wake the watchers of
 * that group (ConcurrencyStore.watch); cancel ones tell `cancels` (RunRecoveryStore.onCancelRequested).
 * When the connection drops, every waiter is woken and every cancel listener told (to look again), and
 * the next wait reconnects. Cancel listeners wait for nothing, so while any is added (onCancelRequested)
 * the connection is also reopened on its own after it drops or fails to open, retrying with a backoff
 * from 100 ms doubling to 5 s; once it is back they are told again, for a request made while it was down.
 */
export class NotificationListener {
  readonly work = new WorkSignal();
  readonly groups = new GroupWatchers();
  readonly cancels = new ListenerSet<void>();
  readonly #db: PostgresDatabase;
  #connecting: Promise<pg.Client> | undefined;
  #closed = false;
  #reconnect: ReturnType<typeof setTimeout> | undefined;
  #failedReconnects = 0;

  constructor(db: PostgresDatabase) {
    this.#db = db;
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

  /**
   * Tells `listener` of every cancel notification, and keeps the connection open (see above) until the
   * returned function has removed it.
   */
  onCancel(listener: () => void): () => void {
    const remove = this.cancels.add(listener);
    this.listening().catch(() => this.#reconnectLater());
    return remove;
  }

  /** Idempotent; wakes every waiter. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#reconnect);
    this.#reconnect = undefined;
    this.work.wake();
    this.groups.wakeAll();
    const connecting = this.#connecting;
    this.#connecting = undefined;
    const client = await connecting?.catch(() => undefined);
    await client?.end().catch(() => {});
  }

  async #connect(): Promise<pg.Client> {
    const client = this.#db.dedicatedClient();
    await client.connect();
    try {
      const { rows } = await client.query<{ queue: string; group: string; cancel: string }>(
        `SELECT ${queueChannelSql} AS queue, ${groupChannelSql} AS group, ${cancelChannelSql} AS cancel`,
      );
      const channels = rows[0];
      if (channels === undefined) throw new Error('could not name the notification channels');
      client.on('notification', (message) => {
        if (message.channel === channels.group) this.groups.wake(message.payload ?? '');
        else if (message.channel === channels.cancel) this.cancels.emit();
        else this.work.wake();
      });
      client.on('end', () => {
        this.#connecting = undefined;
        this.work.wake();
        this.groups.wakeAll();
        this.cancels.emit();
        this.#reconnectLater();
      });
      await client.query(`LISTEN "${channels.queue}"`);
      await client.query(`LISTEN "${channels.group}"`);
      await client.query(`LISTEN "${channels.cancel}"`);
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
  }

  /** After a drop or a failed connect: opens the connection again while cancel listeners need it. */
  #reconnectLater(): void {
    if (this.#closed || !this.cancels.active || this.#reconnect !== undefined) return;
    const delayMs = Math.min(maxReconnectDelayMs, firstReconnectDelayMs * 2 ** this.#failedReconnects);
    this.#reconnect = setTimeout(() => {
      this.#reconnect = undefined;
      if (this.#closed || !this.cancels.active) return;
      this.listening().then(
        () => {
          this.#failedReconnects = 0;
          this.cancels.emit();
        },
        () => {
          this.#failedReconnects++;
          this.#reconnectLater();
        },
      );
    }, delayMs);
    // Closing the stores clears it; until then it must not be what keeps a process alive.
    this.#reconnect.unref();
  }
}

const firstReconnectDelayMs = 100;
const maxReconnectDelayMs = 5_000;
