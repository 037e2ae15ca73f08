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

/** The channel of one listening session's hand-offs (queue-hand-off-migration.ts), per schema as the queue's. */
const handOffChannelSql = (session: string) =>
  `'vk_hand_' || left(md5(current_schema()), 16) || '_' || ${session}`;

/** A group's name can be long (an expression's result), a NOTIFY payload at most 8000 bytes: a hash. */
export function groupKey(group: string): string {
  return createHash('md5').update(group).digest('hex');
}

/**
 * One LISTEN connection per set of stores, on every channel, opened on the first wait and kept: NOTIFY
 * is delivered on commit, so a waiter wakes within a round trip of a change in any process, without
 * polling. Queue notifications wake `work` (QueueStore.waitForWork) and `waiting` (claimOrWait); group
 * ones wake the watchers of that group (ConcurrencyStore.watch); cancel ones tell `cancels`
 * (RunRecoveryStore.onCancelRequested). The connection is also a listening session with a number of
 * its own, whose advisory lock it holds and on whose channel its waiters' hand-offs arrive (handOff).
 * When the connection drops, every waiter is woken and every cancel listener told (to look again), and
 * the next wait reconnects. Cancel listeners wait for nothing, so while any is added (onCancelRequested)
 * the connection is also reopened on its own after it drops or fails to open, retrying with a backoff
 * from 100 ms doubling to 5 s; once it is back they are told again, for a request made while it was down.
 */
export class NotificationListener {
  /** Woken by every queue notification, and by this process's own enqueues (PostgresQueueStore). */
  readonly work = new WorkSignal();
  /**
   * Woken by queue notifications only: jobs left for claimers after every waiter that could take
   * them was handed them (QueueStore.claimOrWait's waiters, who hear of their own jobs as hand-offs).
   */
  readonly waiting = new WorkSignal();
  readonly groups = new GroupWatchers();
  readonly cancels = new ListenerSet<void>();
  readonly #db: PostgresDatabase;
  #connecting: Promise<pg.Client> | undefined;
  /** The open connection's session number (queue_waiter_sessions), whose advisory lock it holds. */
  #session: number | undefined;
  /** Waiters told of their hand-off by `handOff`, by waiter id. */
  readonly #handOffs = new Map<string, (payload: string | undefined) => void>();
  /** Hand-offs that arrived before their waiter asked (its registration's answer may come later). */
  readonly #earlyHandOffs = new Map<string, string>();
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
   * The listening session, which claimOrWait's waiters register under: its hand-offs arrive on this
   * connection. Opens the connection when it is not open.
   */
  async session(): Promise<number> {
    await this.listening();
    if (this.#session === undefined) throw new Error('the notification connection closed');
    return this.#session;
  }

  /**
   * The hand-off for waiter `waiter` of `session`: resolves with its JSON, or with undefined when the
   * session's connection ends first (its leases then expire). `cancel` forgets it.
   */
  handOff(
    session: number,
    waiter: string,
  ): { readonly payload: Promise<string | undefined>; cancel(): void } {
    const early = this.#earlyHandOffs.get(waiter);
    if (early !== undefined) {
      this.#earlyHandOffs.delete(waiter);
      return { payload: Promise.resolve(early), cancel: () => {} };
    }
    if (session !== this.#session) return { payload: Promise.resolve(undefined), cancel: () => {} };
    const payload = new Promise<string | undefined>((resolve) => this.#handOffs.set(waiter, resolve));
    return { payload, cancel: () => this.#handOffs.delete(waiter) };
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
    this.#endSession();
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
      // Held until the connection ends, which is how an enqueue tells this session's waiters are gone.
      const { rows: own } = await client.query<{ session: number; hand: string }>(
        `SELECT s::int AS session, ${handOffChannelSql('s')} AS hand
         FROM nextval('queue_waiter_sessions') AS s, pg_advisory_lock(hashtext(current_schema()), s::int) AS locked`,
      );
      const session = own[0];
      if (session === undefined) throw new Error('could not open a listening session');
      client.on('notification', (message) => {
        if (message.channel === channels.group) this.groups.wake(message.payload ?? '');
        else if (message.channel === channels.cancel) this.cancels.emit();
        else if (message.channel === session.hand) this.#handedOff(message.payload ?? '');
        else {
          this.work.wake();
          this.waiting.wake();
        }
      });
      client.on('end', () => {
        this.#connecting = undefined;
        this.#endSession();
        this.groups.wakeAll();
        this.cancels.emit();
        this.#reconnectLater();
      });
      await client.query(`LISTEN "${channels.queue}"`);
      await client.query(`LISTEN "${channels.group}"`);
      await client.query(`LISTEN "${channels.cancel}"`);
      await client.query(`LISTEN "${session.hand}"`);
      this.#session = session.session;
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
  }

  /** A hand-off's payload is '<waiter id> <JSON>'. */
  #handedOff(payload: string): void {
    const space = payload.indexOf(' ');
    const waiter = payload.slice(0, space);
    const json = payload.slice(space + 1);
    const told = this.#handOffs.get(waiter);
    if (told === undefined) {
      this.#earlyHandOffs.set(waiter, json);
      return;
    }
    this.#handOffs.delete(waiter);
    told(json);
  }

  /** The session's waiters will hear nothing more: each is woken, and each hand-off awaited ends empty. */
  #endSession(): void {
    this.#session = undefined;
    for (const told of this.#handOffs.values()) told(undefined);
    this.#handOffs.clear();
    this.#earlyHandOffs.clear();
    this.work.wake();
    this.waiting.wake();
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
