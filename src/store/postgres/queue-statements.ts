import { queueJobColumns } from '../queue-rows.js';
import type { Statement } from './database.js';
import { queueChannelSql } from './notification-listener.js';

/** The columns a renewed lease is made from (queue-store.ts, leaseFromRow). */
const leaseColumns = 'seq, task, payload, attempts, lease_token, lease_worker';
const enqueueCall = `queue_enqueue_rows($1::int, $2::json, $3::text[], $4::text[], $5::bigint[], $6::bigint[],
  $7::int[], $8::text[], $9::text[], $10::bigint, $11::int)`;

const enqueuedIds = 'seqs::text AS seqs, queued_count AS queued';

export const statements = {
  // Serialises submissions across processes, so that two cannot both pass the capacity check or both
  // create a job for one idempotency key. queue_enqueue takes it too; it is taken here first only when
  // a batch's idempotency keys are looked up. Claims and completions do not take it.
  lockSubmissions: {
    name: 'vk_queue_lock',
    text: "SELECT pg_advisory_xact_lock(hashtext('vk_queue_submit:' || current_schema()))",
  },
  byIdempotencyKey: {
    name: 'vk_queue_by_key',
    text: `SELECT DISTINCT ON (idempotency_key) ${queueJobColumns} FROM queue_jobs
           WHERE idempotency_key = ANY($1::text[]) AND created_at >= $2
           ORDER BY idempotency_key, seq DESC`,
  },
  // The submission lock, the capacity check and the insert in one round trip
  // (queue-enqueue-rows-migration.ts, queue_enqueue_rows), which also hands off or notifies. One row:
  // the new ids as a bigint[] literal in id order, which is the batch's order (1,000 rows cost the
  // client more to parse), or, for a batch past capacity, no ids and the queued count. A column whose
  // values the batch's jobs all share is sent as an array of one (sameOrAll).
  // Measured and left (server CPU a job, batches of 1,000 into a fresh table, Postgres 15, 2 cores):
  // the function costs ~8.2 µs, of which the insert ~7.3 — the heap and executor ~2.6, the primary key
  // ~2.2, the ready index ~2.4; the partial indexes nothing measurable. Inserting from the payloads
  // alone when every other column is one value (no ROWS FROM of eight function scans) saved 0.2-0.3
  // µs, not seen in the bench; COPY (text) cost 3.8 µs a row against 2.6 for the heap alone, its
  // per-column parsing more than heap_multi_insert saves (and several round trips, and pg-copy-streams);
  // payloads as one text split on \x1e and cast per row, no better than json_array_elements.
  enqueue: { name: 'vk_queue_enqueue_rows', text: `SELECT ${enqueuedIds} FROM ${enqueueCall}` },
  // The same, committing without waiting for the WAL flush: the jobs are visible, and the notification
  // sent, one flush sooner. Only for an unkeyed enqueue in a statement of its own, followed by
  // flushEnqueued before it is acknowledged (see #enqueueNow).
  enqueueVisibleFirst: {
    name: 'vk_queue_enqueue_rows_visible_first',
    text: `SELECT ${enqueuedIds}
           FROM set_config('synchronous_commit', 'off', true) AS visible_first, ${enqueueCall}`,
  },
  // A write committed synchronously: its commit flushes the WAL up to itself, so every commit before
  // it is durable too. It writes a row of queue_counts that counts nothing (slots -16 to -1, always 0;
  // queue_enqueue and the claims use 0-15), one per backend as theirs, so that concurrent flushes
  // seldom wait for each other's row lock and can share a WAL flush.
  flushEnqueued: {
    name: 'vk_queue_flush_enqueued',
    text: `INSERT INTO queue_counts (slot, queued) VALUES (-1 - pg_backend_pid() % 16, 0)
           ON CONFLICT (slot) DO UPDATE SET queued = 0`,
  },
  notify: { name: 'vk_queue_notify', text: `SELECT pg_notify(${queueChannelSql}, '')` },
  // Claims and completions are not HOT updates: a claim changes state (the ready index's predicate) and
  // lease_expires_at (the expiry index's key), a completion both again, so a job's life writes five
  // btree entries (the primary key's three, the ready and expiry indexes' one each) and about nine WAL
  // records (pg_walinspect). Moving that state out of the indexes' way was measured and left: ready
  // jobs as rows of a table of their own that the claim deletes, and leases as rows that the claim
  // inserts and the completion deletes, made 97% of the updates HOT but cost more than they saved,
  // because the delete, its row lock and the lease row are writes too: 11.2 WAL records and 974 bytes
  // a job against 9.1 and 836, the server's CPU 910 against 760 ms a 20,000-job trial, 0.84× the jobs/s
  // (medians of 4 interleaved pairs on 2 cores). Without lease rows at all, which no expiry sweep could
  // do without, still 0.90×: 8.2 records and 789 bytes a job, CPU 835 ms.
  // A claim costs the server ~16 µs a job (batches of 250, same measure as the enqueue's above); the
  // row locks of FOR UPDATE SKIP LOCKED, which keep claimers from waiting for each other, ~0.7 of it.
  // Leases the first ready jobs (queue-seq-index-migration.ts, queue_claim_leases), as one JSON array
  // of columns in queue order (RETURNING does not promise the subquery's order): a row per job cost the
  // client a parse and an object each.
  claim: {
    name: 'vk_queue_claim_leases',
    text: 'SELECT queue_claim_leases($1::bigint, $2::int, $3::text, $4::bigint, $5::text[]) AS leases',
  },
  // A claim that, finding nothing ready, registers a waiter for a hand-off (queue-hand-off-migration.ts).
  claimOrWait: {
    name: 'vk_queue_claim_or_wait_leases',
    text: `SELECT leases, waiter::text, ready_at::text
           FROM queue_claim_or_wait_leases($1::bigint, $2::int, $3::text, $4::bigint, $5::text[], $6::int, $7::bigint,
             $8::boolean)`,
  },
  // A waiter that stops waiting; no row when an enqueue has taken it (its hand-off is on its way). Like
  // the registration, it need not wait for the WAL flush when it commits alone ($2).
  unwait: {
    name: 'vk_queue_unwait',
    text: `WITH gone AS (DELETE FROM queue_waiters WHERE id = $1 RETURNING id)
           SELECT count(*)::int AS removed FROM gone,
             set_config('synchronous_commit', CASE WHEN $2::boolean THEN 'off' ELSE current_setting('synchronous_commit') END, true) AS flush`,
  },
  // The leases a hand-off named by id and token, in queue_claim_json's form; one no longer held is left
  // out. A function with sequential scans off (queue-sweep-plan-migration.ts): as a statement of its
  // own, a plan made on an empty queue compared every leased row with every id.
  handedLeases: {
    name: 'vk_queue_handed_leases_by_id',
    text: 'SELECT queue_handed_leases($1::bigint[], $2::bigint[]) AS leases',
  },
  renew: {
    name: 'vk_queue_renew',
    text: `UPDATE queue_jobs SET lease_expires_at = $1
           WHERE seq = $2 AND lease_token = $3 AND state = 'leased' RETURNING ${leaseColumns}`,
  },
  recordStale: {
    name: 'vk_queue_record_stale',
    text: 'INSERT INTO queue_stale_writes (job_id, token, action, at) VALUES ($1, $2, $3, $4)',
  },
  // One statement per batch, reading the batch's rows by id whatever the planner estimates; input rows
  // that updated nothing are recorded as stale and returned (queue-batch-migration.ts). A state or
  // outcome that all the batch's completions share is sent once (queue-complete-rows-migration.ts).
  complete: {
    name: 'vk_queue_complete_rows',
    text: `SELECT job_id::text AS seq, token::text AS token
           FROM queue_complete_rows($1::bigint[], $2::bigint[], $3::text[], $4::json[], $5::bigint)`,
  },
  release: {
    name: 'vk_queue_release',
    text: `SELECT job_id::text AS seq, token::text AS token
           FROM queue_release($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint, $5::bigint, $6::text[], $7::int)`,
  },
  // After queue_release, in its transaction, for the uncounted releases it applied (Release.uncounted):
  // a not-begun attempt goes back by one, a forgiven one raises the bound. Rows by primary key.
  uncount: {
    name: 'vk_queue_uncount_released',
    text: `UPDATE queue_jobs AS q SET attempts = greatest(q.attempts - CASE WHEN i.forgiven THEN 0 ELSE 1 END, 0),
             max_attempts = q.max_attempts + CASE WHEN i.forgiven THEN 1 ELSE 0 END
           FROM unnest($1::bigint[], $2::bigint[], $3::boolean[]) AS i (seq, token, forgiven)
           WHERE q.seq = ANY ($1::bigint[]) AND q.seq = i.seq AND q.lease_token = i.token AND q.state = 'queued'`,
  },
  // Takes the expired leases in id order and skips a row another transaction has locked — a completion,
  // release or renewal under way, whose commit decides the job — instead of waiting for it: locking
  // them in lease-expiry order made a sweep and another process's completion batch deadlock. A function
  // with sequential scans off (queue-sweep-plan-migration.ts): as a statement of its own, a plan made
  // while no lease existed read every job ever kept on each later sweep.
  expire: {
    name: 'vk_queue_expire_leases',
    text: 'SELECT seq, state, lease_token FROM queue_expire_leases($1::bigint)',
  },
  // No parameters, so one plan from the first call; the ready index answers it (it holds the queued
  // rows only), and a plan made on an empty queue reads it too (postgres-queue-statement-plans.test.ts).
  nextReadyAt: {
    name: 'vk_queue_next_ready',
    text: "SELECT min(coalesce(not_before, 0))::text AS at FROM queue_jobs WHERE state = 'queued'",
  },
  getMany: {
    name: 'vk_queue_get_many',
    text: `SELECT ${queueJobColumns} FROM queue_jobs WHERE seq = ANY ($1::bigint[])
             AND (NOT $2::boolean OR state IN ('succeeded', 'failed')) ORDER BY seq`,
  },
  staleWrites: {
    name: 'vk_queue_stale_writes',
    text: `SELECT job_id::text, token::text, action, at::text FROM queue_stale_writes
           WHERE $1::bigint IS NULL OR job_id = $1 ORDER BY seq`,
  },
} satisfies Record<string, Statement>;
