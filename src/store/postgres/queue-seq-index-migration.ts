/**
 * Migration 34 (the 34th entry of schema-migrations.ts; released, so never edited — a change is a new entry).
 *
 * Cheaper index entries for the versions a job's row leaves behind. Claims and completions cannot be
 * HOT updates (see migration 32), so each adds an entry for the job's id to the primary key:
 *
 * - A leaf page keeps 70% free when it splits, room for a job's three versions: at half free, the
 *   completion's entry found the page full and first deleted old versions' entries (bottom-up
 *   deletion), visiting their heap pages. Set on the index, not rebuilt: pages split from now on (a
 *   new schema's all), without holding the table locked for a build of its whole history.
 *
 * Its first form, on main for a day and in no release, also replaced the primary key by a non-unique
 * index (~7k instructions a job fewer: a unique index fetches the older versions of the job's row to
 * check them); migration 37 gives the schemas it made their primary key back (see there for why).
 * - queue_claim_leases reads the server's clock once per claim for the lease tokens' floor (see
 *   queue-hand-off-migration.ts), not once per leased row; extract() is numeric arithmetic, ~2k
 *   instructions a row. Otherwise it is queue_claim_columns, and queue_claim_or_wait_leases is
 *   queue_claim_or_wait_columns calling it. New functions, not replacements: a process of the previous
 *   version still running on this database (a rolling upgrade) calls the old ones, which stay.
 *
 * Instructions of the Postgres server per job under callgrind (bench/queue/trial-valkyrie.js's cycle:
 * 20,000 jobs enqueued 1,000 at a time, claimed by a worker of concurrency 50 and prefetch 450,
 * completed), median of 3: 173.1k → 158.0k with the first form; about 7k of that was the unique check.
 */
export const queueSeqIndexMigration = `
  ALTER INDEX queue_jobs_pkey SET (fillfactor = 30);

  CREATE FUNCTION queue_claim_leases(claim_now bigint, claim_limit int, claim_worker text,
    claim_expires_at bigint, claim_tasks text[])
  RETURNS json LANGUAGE plpgsql VOLATILE SET enable_sort = off SET jit = off AS $$
  #variable_conflict use_column
  DECLARE
    claimed json;
    token_floor bigint := (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  BEGIN
    WITH leased AS (
      UPDATE queue_jobs AS q SET state = 'leased', attempts = q.attempts + 1,
        lease_token = greatest(q.lease_token + 1, token_floor),
        lease_worker = claim_worker, lease_expires_at = claim_expires_at
      WHERE q.ctid = ANY (ARRAY (
        SELECT j.ctid FROM queue_jobs AS j
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

  CREATE FUNCTION queue_claim_or_wait_leases(claim_now bigint, claim_limit int, claim_worker text,
    claim_expires_at bigint, claim_tasks text[], waiter_session int, waiter_ttl_ms bigint,
    commits_alone boolean)
  RETURNS TABLE (leases json, waiter bigint, ready_at bigint) LANGUAGE plpgsql VOLATILE AS $$
  BEGIN
    leases := queue_claim_leases(claim_now, claim_limit, claim_worker, claim_expires_at, claim_tasks);
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
