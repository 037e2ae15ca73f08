import { randomUUID } from 'node:crypto';
import type { ClaimRequest, Lease, LeaseRef } from '../queue.js';
import { asQueueJobId } from '../queue.js';
import type { PostgresDatabase, Statement } from './database.js';
import type { ListenerBackend } from './queue-listener.js';

interface HandedRow {
  seq: string;
  task: string;
  payload: unknown;
  attempts: number;
  lease_token: string;
  lease_worker: string;
  lease_expires_at: string;
  queue_key: string;
}

const statements = {
  unregister: { name: 'vk_queue_unwait', text: 'DELETE FROM queue_waiters WHERE id = $1' },
  handed: {
    name: 'vk_queue_handed',
    text: `SELECT seq, task, payload, attempts, lease_token, lease_worker, lease_expires_at, queue_key
           FROM queue_jobs WHERE seq = ANY ($1::bigint[]) AND state = 'leased'`,
  },
} satisfies Record<string, Statement>;

const ignore = () => {};

/** A hand-off notification's body (queue-handoff-sql.ts). */
interface HandOff {
  readonly w: string;
  readonly e: number;
  readonly j: readonly (readonly [string, string, number, string, unknown] | readonly [string, string])[];
}

/** A lease handed over without its job, which is read back before it is returned. */
interface BareLease extends LeaseRef {
  readonly worker: string;
}

function handedLeases(handOff: HandOff): (Lease | BareLease)[] {
  return handOff.j.map((entry) => {
    const [seq, token, attempt, task, payload] = entry;
    const ref = { jobId: asQueueJobId(seq), token: Number(token), worker: handOff.w };
    return attempt === undefined || task === undefined
      ? ref
      : { ...ref, expiresAt: handOff.e, task, payload, attempt };
  });
}

/** What a notification on the queue channel means to this store. */
export type Notice = 'handed' | 'wake' | 'not-mine';

/**
 * The claimer's side of the hand-off (queue-handoff-sql.ts): a claim that finds nothing registers
 * what it asked for, in its own commit (so an enqueue committed after it sees the registration, and
 * one committed before it was seen by the claim); an enqueue may then lease new jobs to this store in
 * the enqueue's commit and send them in a notification, and the next claim returns those leases
 * without a round trip. A claim that finds jobs removes the registration.
 *
 * Leases handed over while nobody claims (a hand-off that crossed the wait's end) are returned by the
 * next claim; `close` gives back any still held. A process that dies holding some loses them as it
 * would loses claimed ones: they expire and follow their policy.
 */
export class QueueHandoff {
  readonly #id = randomUUID();
  readonly #db: PostgresDatabase;
  /** The LISTEN connection's backend, once listening: a registration names it. */
  #backend: ListenerBackend | undefined;
  #inbox: (Lease | BareLease)[] = [];

  constructor(db: PostgresDatabase) {
    this.#db = db;
  }

  /** Leases were handed over and no claim has returned them yet. */
  get holding(): boolean {
    return this.#inbox.length > 0;
  }

  /** `payload` of a notification: a hand-off to this store, to another one, or a plain wake-up. */
  notice(payload: string): Notice {
    if (!payload.startsWith('h:')) return 'wake';
    const at = payload.indexOf(':', 2);
    if (payload.slice(2, at) !== this.#id) return 'not-mine';
    try {
      this.#inbox.push(...handedLeases(JSON.parse(payload.slice(at + 1)) as HandOff));
    } catch {
      // Not what queue_enqueue writes; its leases (if any) expire and run again.
      return 'wake';
    }
    return 'handed';
  }

  listening(backend: ListenerBackend): void {
    this.#backend = backend;
  }

  /**
   * The claim statement's registration parameters (id, backend pid, backend start): a claim that
   * finds nothing registers what it asked for, one that finds jobs removes the registration (see
   * PostgresQueueStore's claim statement). All null until listening: nobody would hear a hand-off.
   */
  registration(): [string, number, string] | [null, null, null] {
    const backend = this.#backend;
    return backend === undefined ? [null, null, null] : [this.#id, backend.pid, backend.start];
  }

  /**
   * The handed-over leases, up to `request.limit` of its tasks, in queue order; the others are passed
   * to `giveBack`. Those handed over without their job (too large for a notification) are read back
   * first, and dropped when no longer current. Undefined when none were handed over.
   */
  async take(
    request: ClaimRequest,
    giveBack: (leases: readonly LeaseRef[]) => Promise<unknown>,
  ): Promise<Lease[] | undefined> {
    if (this.#inbox.length === 0) return undefined;
    const held = this.#inbox;
    this.#inbox = [];
    const bare = held.filter((lease): lease is BareLease => !('task' in lease));
    const leases = held.filter((lease): lease is Lease => 'task' in lease);
    if (bare.length > 0) leases.push(...(await this.#readBack(bare)));
    const limit = Math.max(0, Math.floor(request.limit));
    const wanted = (lease: Lease) => request.tasks === undefined || request.tasks.includes(lease.task);
    const taken = leases.filter(wanted).slice(0, limit);
    const rest = leases.filter((lease) => !taken.includes(lease));
    if (rest.length > 0) await giveBack(rest);
    return taken;
  }

  async #readBack(bare: readonly BareLease[]): Promise<Lease[]> {
    const { rows } = await this.#db
      .read('read handed-over queue jobs', (query) =>
        query<HandedRow>(statements.handed, [bare.map((lease) => lease.jobId)]),
      )
      .catch((error: unknown) => {
        this.#inbox.push(...bare);
        throw error;
      });
    const tokens = new Map(bare.map((lease) => [String(lease.jobId), lease.token]));
    return rows
      .filter((row) => tokens.get(row.seq) === Number(row.lease_token))
      .map((row) => ({ row, key: BigInt(row.queue_key), seq: BigInt(row.seq) }))
      .sort((a, b) => compare(a.key, b.key) || compare(a.seq, b.seq))
      .map(({ row }) => leaseFromRow(row));
  }

  /** Closing: no more hand-offs to this store, and the leases it holds go back to the queue. */
  async close(giveBack: (leases: readonly LeaseRef[]) => Promise<unknown>): Promise<void> {
    if (this.#backend !== undefined) {
      this.#backend = undefined;
      await this.#db
        .write('remove a queue waiter', (query) => query(statements.unregister, [this.#id]))
        .catch(ignore);
    }
    const held = this.#inbox;
    this.#inbox = [];
    if (held.length > 0) await giveBack(held).catch(ignore);
  }
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function leaseFromRow(row: HandedRow): Lease {
  return {
    jobId: asQueueJobId(row.seq),
    token: Number(row.lease_token),
    worker: row.lease_worker,
    expiresAt: Number(row.lease_expires_at),
    task: row.task,
    payload: row.payload,
    attempt: row.attempts,
  };
}
