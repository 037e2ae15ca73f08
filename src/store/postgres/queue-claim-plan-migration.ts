/**
 * Migration 43 (the 43rd entry of schema-migrations.ts; released, so never edited — a change is a new entry).
 *
 * The claims keep a plan that reads queue_jobs by its indexes and the locked rows' addresses, whatever
 * the table held when the plan was made. PL/pgSQL keeps a statement's plan for the backend's life once
 * five calls have made their own plans; a backend whose first claims found the table empty (a worker
 * polling before any job was enqueued, a fresh schema) kept plans made for an empty table, in which a
 * sequential scan costs nothing: queue_claim_leases' update then found its rows by reading every job
 * ever kept, finished ones included, on each claim (seq_scan: one a claim; 5,000 rows read to lease
 * 100 of them), and so did queue_claim_or_wait_leases' look for the earliest delayed job, and
 * queue_hand_off's check for new jobs left queued. A statistics update (ANALYZE) makes it plan again,
 * but nothing in the queue's own work does, and with autovacuum off nothing does. Sequential scans are
 * off for these functions, as for queue_claim_json (migration 42) and the completions (migration 36);
 * each of their statements has an index or address that answers it.
 *
 * The same for the functions that processes of the previous versions call (a rolling upgrade):
 * ALTER FUNCTION changes only the setting; name, arguments, result and body stay.
 *
 * Measured on a private Postgres 15: one session claiming 8 times from an empty queue, then 20,000
 * jobs enqueued 1,000 at a time, claimed 250 at a time and completed: server instructions per job
 * 1,468k → 153k (callgrind, 4 pairs), 7.3k → 34k jobs/s. bench/queue/trial-valkyrie.js, whose claims
 * begin with jobs queued, made no such scan before and is unchanged (143.1k / 143.6k a job).
 */
export const queueClaimPlanMigration = `
  ALTER FUNCTION queue_claim_leases(bigint, int, text, bigint, text[]) SET enable_seqscan = off;
  ALTER FUNCTION queue_claim_or_wait_leases(bigint, int, text, bigint, text[], int, bigint, boolean)
    SET enable_seqscan = off;
  ALTER FUNCTION queue_hand_off(bigint, bigint[], bigint[]) SET enable_seqscan = off;
  ALTER FUNCTION queue_claim_columns(bigint, int, text, bigint, text[]) SET enable_seqscan = off;
  ALTER FUNCTION queue_claim_or_wait_columns(bigint, int, text, bigint, text[], int, bigint, boolean)
    SET enable_seqscan = off;
  ALTER FUNCTION queue_claim(bigint, int, text, bigint, text[]) SET enable_seqscan = off;
  ALTER FUNCTION queue_claim_or_wait(bigint, int, text, bigint, text[], int, bigint, boolean)
    SET enable_seqscan = off;
`;
