/**
 * Migration 44 (the 44th entry of schema-migrations.ts; released, so never edited — a change is a new entry).
 *
 * The lease-expiry sweep and the read of a hand-off's leases by id, as functions with sequential scans
 * off, for the reason migration 43 gave the claims: a named statement the client prepares keeps, after
 * five executions, a generic plan costed with the statistics of that moment. A connection whose first
 * sweeps ran on an empty queue (every process's first third of a lease TTL) kept a plan that found the
 * expired leases by reading every job ever kept, finished ones included, then sorting them; the lease
 * read kept a nested loop over every leased row of a sequential scan, compared with each handed id.
 * Each has an index that answers it: queue_jobs_lease_expiry (its predicate, lease_expires_at IS NOT
 * NULL, is implied by lease_expires_at <= now) and the primary key (the ids, as `seq = ANY`, besides
 * the join to their tokens, so that a plan cannot read the whole index either).
 *
 * The statements that call them (queue-statements.ts, expire and handedLeases) return the rows and
 * columns the previous ones did. Nothing is dropped: processes of the previous version (a rolling
 * upgrade) keep preparing their own statements.
 */
export const queueSweepPlanMigration = `
  CREATE FUNCTION queue_expire_leases(expire_now bigint)
  RETURNS TABLE (seq bigint, state text, lease_token bigint)
  LANGUAGE plpgsql VOLATILE SET enable_seqscan = off SET jit = off AS $$
  #variable_conflict use_column
  BEGIN
    -- In id order, skipping rows another transaction holds: see queue-statements.ts, expire.
    RETURN QUERY WITH due AS (
      SELECT j.seq FROM queue_jobs AS j WHERE j.state = 'leased' AND j.lease_expires_at <= expire_now
      ORDER BY j.seq FOR UPDATE SKIP LOCKED),
    expired AS (
      UPDATE queue_jobs AS q SET
        state = CASE WHEN q.on_lease_expiry = 'fail' OR q.attempts >= q.max_attempts THEN 'failed' ELSE 'queued' END,
        outcome = CASE WHEN q.on_lease_expiry = 'fail' OR q.attempts >= q.max_attempts
          THEN json_build_object('kind', 'runner_lost', 'attempts', q.attempts) END,
        finished_at = CASE WHEN q.on_lease_expiry = 'fail' OR q.attempts >= q.max_attempts THEN expire_now END,
        lease_worker = NULL, lease_expires_at = NULL
      FROM due WHERE q.seq = due.seq
      RETURNING q.seq, q.state, q.lease_token),
    counted AS (
      UPDATE queue_counts SET queued = queued + (SELECT count(*) FROM expired AS e WHERE e.state = 'queued')
      WHERE slot = pg_backend_pid() % 16 AND EXISTS (SELECT FROM expired AS e WHERE e.state = 'queued'))
    SELECT e.seq, e.state, e.lease_token FROM expired AS e;
  END
  $$;

  CREATE FUNCTION queue_handed_leases(handed_seqs bigint[], handed_tokens bigint[])
  RETURNS json LANGUAGE plpgsql STABLE SET enable_seqscan = off SET jit = off AS $$
  BEGIN
    RETURN (SELECT json_agg(json_build_array(q.seq::text, q.task, q.payload, q.attempts, q.lease_token,
        q.lease_worker) ORDER BY q.queue_key, q.seq)
      FROM unnest(handed_seqs, handed_tokens) AS h (seq, token)
      JOIN queue_jobs AS q ON q.seq = h.seq AND q.lease_token = h.token
      WHERE q.seq = ANY (handed_seqs) AND q.state = 'leased');
  END
  $$;
`;
