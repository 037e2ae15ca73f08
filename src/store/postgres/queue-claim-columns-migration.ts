/**
 * Migration 30 (the 30th entry of schema-migrations.ts; released, so never edited — a change is a new entry).
 *
 * A claim returns its leases as columns: one JSON array [ids, tasks, payloads, attempts, tokens], each
 * a JSON array in queue order, NULL when it leased nothing (the worker is the claim's own). It is one
 * PL/pgSQL function whose single statement leases, counts and aggregates. Claims went through three
 * functions (queue_claim_or_wait → queue_claim_json → queue_claim), which stored the leased rows in
 * a tuplestore at each step, and built a JSON array per job with json_build_array, which looks the
 * output function of each of its six values up again for every row; array_to_json looks it up once
 * per column. Instructions of the Postgres server per job, claiming 10,000 jobs 250 at a time under
 * callgrind: 82.2k → 73.5k (the enqueues before them: 55.6k, unchanged).
 *
 * queue_claim and queue_claim_json stay for hand-offs (queue-hand-off-migration.ts), whose
 * notifications carry leases as queue_claim_json's tuples; queue_claim_or_wait stays as it was, for
 * processes of the previous version (see below).
 */
export const queueClaimColumnsMigration = `
  -- The leased rows in queue order, then aggregated in that order (a sorted subquery's order is the
  -- order a plain aggregate above it sees): one sort instead of one per column. Sorting is disabled
  -- for the ready index's sake, as in queue_claim; the leased rows' sort has no alternative and stays,
  -- but its penalty for being disabled makes the statement look costly enough for JIT compilation,
  -- which took 0.5-0.9 s a claim: JIT is off.
  CREATE FUNCTION queue_claim_columns(claim_now bigint, claim_limit int, claim_worker text,
    claim_expires_at bigint, claim_tasks text[])
  RETURNS json LANGUAGE plpgsql VOLATILE SET enable_sort = off SET jit = off AS $$
  #variable_conflict use_column
  DECLARE
    claimed json;
  BEGIN
    WITH leased AS (
      UPDATE queue_jobs AS q SET state = 'leased', attempts = q.attempts + 1,
        lease_token = greatest(q.lease_token + 1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint),
        lease_worker = claim_worker, lease_expires_at = claim_expires_at
      WHERE q.seq = ANY (ARRAY (
        SELECT j.seq FROM queue_jobs AS j
        WHERE j.state = 'queued' AND (j.not_before IS NULL OR j.not_before <= claim_now)
          AND (claim_tasks IS NULL OR j.task = ANY (claim_tasks))
        ORDER BY j.queue_key, j.seq LIMIT claim_limit FOR UPDATE SKIP LOCKED))
      RETURNING q.seq, q.task, q.payload, q.attempts, q.lease_token, q.queue_key),
    counted AS (
      UPDATE queue_counts SET queued = queued - (SELECT count(*) FROM leased)
      WHERE slot = pg_backend_pid() % 16 AND EXISTS (SELECT FROM leased))
    SELECT json_build_array(array_to_json(array_agg(c.seq::text)), array_to_json(array_agg(c.task)),
        array_to_json(array_agg(c.payload)), array_to_json(array_agg(c.attempts)),
        array_to_json(array_agg(c.lease_token)))
      INTO claimed
      FROM (SELECT * FROM leased ORDER BY leased.queue_key, leased.seq) AS c
      HAVING count(*) > 0;
    RETURN claimed;
  END
  $$;

  -- As queue_claim_or_wait (queue-hand-off-migration.ts), but its leases are queue_claim_columns'.
  -- A function of its own, not a replacement: a process of the previous version still running on
  -- this database (a rolling upgrade) calls queue_claim_or_wait and reads its leases as tuples.
  CREATE FUNCTION queue_claim_or_wait_columns(claim_now bigint, claim_limit int, claim_worker text,
    claim_expires_at bigint, claim_tasks text[], waiter_session int, waiter_ttl_ms bigint,
    commits_alone boolean)
  RETURNS TABLE (leases json, waiter bigint, ready_at bigint) LANGUAGE plpgsql VOLATILE AS $$
  BEGIN
    leases := queue_claim_columns(claim_now, claim_limit, claim_worker, claim_expires_at, claim_tasks);
    IF leases IS NULL THEN
      SELECT min(coalesce(j.not_before, 0)) INTO ready_at FROM queue_jobs AS j
      WHERE j.state = 'queued' AND (claim_tasks IS NULL OR j.task = ANY (claim_tasks));
      IF ready_at IS NULL OR ready_at > claim_now THEN
        INSERT INTO queue_waiters (session_id, worker, claim_limit, ttl_ms, tasks)
        VALUES (waiter_session, claim_worker, claim_limit, waiter_ttl_ms, claim_tasks)
        RETURNING id INTO waiter;
        IF commits_alone THEN
          PERFORM set_config('synchronous_commit', 'off', true);
        END IF;
      END IF;
    END IF;
    RETURN NEXT;
  END
  $$;
`;
