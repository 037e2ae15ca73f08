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
  readonly #cancels = new ListenerSet<void>();
  readonly #db: PostgresDatabase;
  #connecting: Promise<pg.Client> | undefined;
  /** The open connection's session number (queue_waiter_sessions), whose advisory lock it holds. */
  #session: number | undefined;
  /** Waiters told of their hand-off by `handOff`, by waiter id. */
  readonly #handOffs = new Map<string, (payload: string | undefined) => void>();
  /**
   * Hand-offs that arrived before their waiter asked (its registration's answer may come later), each
   * given back (#unclaimed) if nobody asks for it within `unclaimedHandOffMs`: its waiter gave up.
   */
  readonly #earlyHandOffs = new Map<string, { readonly payload: string; readonly timer: NodeJS.Timeout }>();
  #unclaimed: (payload: string) => void = () => {};
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
   * session's connection ends first (its leases then expire). `cancel` forgets it, and says whether it
   * was still awaited: a hand-off that arrives after that is given back (onUnclaimedHandOff).
   */
  handOff(
    session: number,
    waiter: string,
  ): { readonly payload: Promise<string | undefined>; cancel(): boolean } {
    const early = this.#earlyHandOffs.get(waiter);
    if (early !== undefined) {
      this.#earlyHandOffs.delete(waiter);
      clearTimeout(early.timer);
      return { payload: Promise.resolve(early.payload), cancel: () => false };
    }
    if (session !== this.#session) return { payload: Promise.resolve(undefined), cancel: () => false };
    const payload = new Promise<string | undefined>((resolve) => this.#handOffs.set(waiter, resolve));
    return { payload, cancel: () => this.#handOffs.delete(waiter) };
  }

  /**
   * What to do with a hand-off that no waiter took (one that gave up on an error after an enqueue had
   * taken it): the queue store gives its leases back, instead of leaving them to expire.
   */
  onUnclaimedHandOff(giveBack: (payload: string) => void): void {
    this.#unclaimed = giveBack;
  }

  /**
   * Tells `listener` of every cancel notification, and keeps the connection open (see above) until the
   * returned function has removed it.
   */
  onCancel(listener: () => void): () => void {
    const remove = this.#cancels.add(listener);
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
      // A connection that silently died must not keep its lock (openSession) for hours: the server
      // drops it after ~25 s without an answer to its probes.
      await client.query(
        'SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3',
      );
      const session = await openSession(client);
      client.on('notification', (message) => {
        if (message.channel === channels.group) this.groups.wake(message.payload ?? '');
        else if (message.channel === channels.cancel) this.#cancels.emit();
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
        this.#cancels.emit();
        this.#reconnectLater();
      });
      const listened = [channels.queue, channels.group, channels.cancel, session.hand];
      await client.query(listened.map((channel) => `LISTEN "${channel}";`).join(' '));
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
      const timer = setTimeout(() => {
        if (this.#earlyHandOffs.get(waiter)?.payload !== json) return;
        this.#earlyHandOffs.delete(waiter);
        this.#unclaimed(json);
      }, unclaimedHandOffMs);
      timer.unref();
      this.#earlyHandOffs.set(waiter, { payload: json, timer });
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
    // The leases already here are still this process's to give back; nobody will ask for them now.
    for (const { payload, timer } of this.#earlyHandOffs.values()) {
      clearTimeout(timer);
      this.#unclaimed(payload);
    }
    this.#earlyHandOffs.clear();
    this.work.wake();
    this.waiting.wake();
  }

  /** After a drop or a failed connect: opens the connection again while cancel listeners need it. */
  #reconnectLater(): void {
    if (this.#closed || !this.#cancels.active || this.#reconnect !== undefined) return;
    const delayMs = Math.min(maxReconnectDelayMs, firstReconnectDelayMs * 2 ** this.#failedReconnects);
    this.#reconnect = setTimeout(() => {
      this.#reconnect = undefined;
      if (this.#closed || !this.#cancels.active) return;
      this.listening().then(
        () => {
          this.#failedReconnects = 0;
          this.#cancels.emit();
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

/** How long a hand-off waits for its waiter to ask for it (normally a round trip) before it is given back. */
const unclaimedHandOffMs = 10_000;

/**
 * A new session number, with its advisory lock taken, which the connection holds until it ends: that is
 * how an enqueue tells this session's waiters are gone (queue-hand-off-migration.ts). A try, never a
 * wait: after the sequence wraps, a number may still be held by a session from long ago.
 */
async function openSession(client: pg.Client): Promise<{ readonly session: number; readonly hand: string }> {
  for (let tries = 0; tries < 100; tries++) {
    const { rows } = await client.query<{ session: number; hand: string; locked: boolean }>(
      `SELECT s::int AS session, ${handOffChannelSql('s')} AS hand,
         pg_try_advisory_lock(hashtext(current_schema()), s::int) AS locked
       FROM nextval('queue_waiter_sessions') AS s`,
    );
    const own = rows[0];
    if (own?.locked === true) return own;
  }
  throw new Error('could not open a listening session: no session number was free');
}

const firstReconnectDelayMs = 100;
const maxReconnectDelayMs = 5_000;
