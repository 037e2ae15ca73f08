import type { ClaimRequest, Lease, LeaseRef, ResolvedQueueOptions } from '../queue.js';
import { asQueueJobId } from '../queue.js';
import { checkClaimRequest } from '../queue-rows.js';
import { integerArrayLiteral } from './array-literal.js';
import type { PostgresDatabase } from './database.js';
import { toStoreError } from './errors.js';
import type { NotificationListener } from './notification-listener.js';
import { statements } from './queue-statements.js';

/** A leased job as hand-offs carry it (queue_claim_json): id (text), task, payload, attempt, token, worker. */
export type ClaimedTuple = [string, string, unknown, number, number, string];

/** Leases as the claim statements return them (queue_claim_columns): ids (text), tasks, payloads, attempts, tokens. */
export type ClaimedColumns = [string[], string[], unknown[], number[], number[]];

/** A hand-off's JSON (queue-hand-off-migration.ts, queue_hand_off): the leases, or their ids and tokens. */
interface HandOff {
  readonly expiresAt: number;
  readonly leases?: ClaimedTuple[];
  readonly ids?: [string, number][];
}

interface Registration {
  readonly leases: ClaimedColumns | null;
  readonly waiter: string | null;
  readonly ready_at: string | null;
}

export function leasesFromClaimed(claimed: readonly ClaimedTuple[], expiresAt: number): Lease[] {
  return claimed.map(
    ([jobId, task, payload, attempt, token, worker]): Lease => ({
      jobId: asQueueJobId(jobId),
      token,
      worker,
      expiresAt,
      task,
      payload,
      attempt,
    }),
  );
}

/** `worker`: the claim's, to which queue_claim_columns leased every job. */
export function leasesFromColumns(
  [ids, tasks, payloads, attempts, tokens]: ClaimedColumns,
  expiresAt: number,
  worker: string,
): Lease[] {
  const leases = new Array<Lease>(ids.length);
  for (let i = 0; i < ids.length; i++) {
    leases[i] = {
      jobId: asQueueJobId(ids[i] ?? ''),
      token: tokens[i] ?? 0,
      worker,
      expiresAt,
      task: tasks[i] ?? '',
      payload: payloads[i],
      attempt: attempts[i] ?? 0,
    };
  }
  return leases;
}

/** What claimOrWait works with: the store's database, listener and options, and how it gives leases back. */
export interface HandOffContext {
  readonly db: PostgresDatabase;
  readonly listener: NotificationListener;
  readonly options: ResolvedQueueOptions;
  /** Releases the leases of a hand-off that its waiter could not take (it failed on the way). */
  readonly giveBack: (payload: string) => void;
}

/**
 * QueueStore.claimOrWait on Postgres. A claim that finds nothing registers the worker as a waiter in
 * the same statement; an enqueue then leases its jobs to the waiter in its own transaction and sends
 * them on the waiter's listening session, so the worker starts them a notification after the enqueue
 * commits, without a claim's round trip and WAL flush of its own. The waiter stops waiting (and claims
 * again) when a queue notification says jobs were left for claimers, when the earliest delayed job it
 * could take becomes ready, or when `signal` aborts; if an enqueue took it meanwhile, it waits for that
 * hand-off instead, which is on its way. When the session's connection ends, its handed-off leases
 * are lost to it and expire; a waiter that fails on the way gives back what is handed to it.
 */
export async function claimOrWait(
  context: HandOffContext,
  request: ClaimRequest,
  signal: AbortSignal,
): Promise<Lease[]> {
  checkClaimRequest(request, 'claim');
  const { db, listener, options } = context;
  const session = await listener.session().catch((error: unknown) => {
    throw toStoreError('listen for queued jobs', error);
  });
  const now = options.clock.now();
  const expiresAt = now + request.ttlMs;
  const registering = db.write(
    'claim queue jobs',
    async (query, { autocommit }) => {
      const { rows } = await query<Registration>(statements.claimOrWait, [
        now,
        request.limit,
        request.worker,
        expiresAt,
        request.tasks ?? null,
        session,
        request.ttlMs,
        autocommit,
      ]);
      return rows[0] ?? { leases: null, waiter: null, ready_at: null };
    },
    { lane: 'claims' },
  );
  // Woken from before the registration commits: a queue notification right after it is not missed.
  const { woken, end } = listener.waiting.arm(options.clock, async () => {
    const { ready_at } = await registering;
    return ready_at === null ? undefined : Number(ready_at);
  });
  signal.addEventListener('abort', end, { once: true });
  // It may have aborted while the session opened.
  if (signal.aborted) end();
  try {
    const registered = await registering;
    if (registered.leases !== null) return leasesFromColumns(registered.leases, expiresAt, request.worker);
    if (registered.waiter === null) return [];
    const handOff = listener.handOff(session, registered.waiter);
    const first = await Promise.race([handOff.payload, woken.then(() => null)]);
    if (first !== null) return first === undefined ? [] : await handedLeases(context, first);
    let removed: boolean;
    try {
      removed = await unwait(db, registered.waiter);
    } catch (error) {
      // Taken or not, the waiter is abandoned: whatever is handed to it goes back.
      if (!handOff.cancel()) void handOff.payload.then((payload) => payload && context.giveBack(payload));
      throw error;
    }
    if (removed) {
      handOff.cancel();
      return [];
    }
    const payload = await handOff.payload;
    return payload === undefined ? [] : await handedLeases(context, payload);
  } finally {
    end();
    signal.removeEventListener('abort', end);
    // A wait that failed with the registration has nobody to report to: the registration's error is.
    woken.catch(() => {});
  }
}

/** Deletes the waiter; false when an enqueue has taken it (and its hand-off is on its way). */
async function unwait(db: PostgresDatabase, waiter: string): Promise<boolean> {
  return db.write(
    'stop waiting for queued jobs',
    async (query, { autocommit }) => {
      const { rows } = await query<{ removed: number }>(statements.unwait, [waiter, autocommit]);
      return rows[0]?.removed === 1;
    },
    { lane: 'claims' },
  );
}

/** The leases a hand-off names, each the job's current one (see handedLeases). */
export function handedRefs(payload: string): LeaseRef[] {
  const handOff = JSON.parse(payload) as HandOff;
  const pairs =
    handOff.leases?.map(([id, , , , token]): [string, number] => [id, token]) ?? handOff.ids ?? [];
  return pairs.map(([id, token]) => ({ jobId: asQueueJobId(id), token }));
}

async function handedLeases(context: HandOffContext, payload: string): Promise<Lease[]> {
  const handOff = JSON.parse(payload) as HandOff;
  if (handOff.leases !== undefined) return leasesFromClaimed(handOff.leases, handOff.expiresAt);
  const ids = handOff.ids ?? [];
  // Too large to travel with their payloads: read them, the ones still held under these tokens.
  try {
    const claimed = await context.db.read('read handed-off queue jobs', async (query) => {
      const { rows } = await query<{ leases: ClaimedTuple[] | null }>(statements.handedLeases, [
        integerArrayLiteral(ids.map(([id]) => id)),
        integerArrayLiteral(ids.map(([, token]) => token)),
      ]);
      return rows[0]?.leases ?? [];
    });
    return leasesFromClaimed(claimed, handOff.expiresAt);
  } catch (error) {
    context.giveBack(payload);
    throw error;
  }
}
