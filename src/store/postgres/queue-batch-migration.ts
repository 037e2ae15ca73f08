/**
 * Migration 16 (the 16th entry of schema-migrations.ts; released, so never edited — a change is a new entry).
 *
 * Completions and releases find their rows by primary key, whatever the planner estimates. They
 * joined their input to `queue_jobs ... AND state = 'leased'`, which the partial index of leased
 * rows answers, so each batch read every leased row (hash join), and once a connection's plan
 * turned generic after an ANALYZE that saw few leased rows, it compared every leased row with every
 * input row (nested loop with a join filter): 62,250 comparisons and 12 ms for a batch of 250.
 *
 * - The lease-expiry index's predicate becomes `lease_expires_at IS NOT NULL`, which holds exactly
 *   for leased rows (every write that leaves 'leased' clears it) and which the expiry sweep's
 *   `lease_expires_at <= now` implies, but a completion's, release's or renewal's quals do not.
 * - queue_complete and queue_release hash their input against the rows the primary key returns
 *   for `seq = ANY (ids)` (or, for a completion whose ids lie within 4× its size, for their range),
 *   the only plan left to them: sequential scans, nested loops and merge joins are off inside, so a
 *   generic plan cannot go quadratic. Input rows that updated nothing are recorded as stale writes
 *   (a hashed NOT IN, which needs no join) and returned.
 */
export const queueBatchMigration = `
  CREATE INDEX queue_jobs_lease_expiry ON queue_jobs (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
  DROP INDEX queue_jobs_leased;

  -- A batch whose ids are close together (jobs claimed together finish together) reads its id range
  -- in key order, cheaper than a descent per id; a scattered one reads its ids one by one.
  CREATE FUNCTION queue_complete(done_seqs bigint[], done_tokens bigint[], done_states text[],
    done_outcomes json[], done_at bigint)
  RETURNS TABLE (job_id bigint, token bigint) LANGUAGE plpgsql VOLATILE
  SET enable_seqscan = off SET enable_nestloop = off SET enable_mergejoin = off AS $$
  #variable_conflict use_column
  DECLARE
    low bigint;
    high bigint;
    updated_seqs bigint[];
    updated_tokens bigint[];
  BEGIN
    SELECT min(s), max(s) INTO low, high FROM unnest(done_seqs) AS s;
    IF high - low < 4 * cardinality(done_seqs) THEN
      WITH done AS (
        UPDATE queue_jobs AS q SET state = i.state, outcome = i.outcome, finished_at = done_at,
          lease_worker = NULL, lease_expires_at = NULL
        FROM unnest(done_seqs, done_tokens, done_states, done_outcomes) AS i (seq, token, state, outcome)
        WHERE q.seq BETWEEN low AND high AND q.seq = i.seq AND q.lease_token = i.token AND q.state = 'leased'
        RETURNING q.seq, q.lease_token)
      SELECT array_agg(done.seq), array_agg(done.lease_token) INTO updated_seqs, updated_tokens FROM done;
    ELSE
      WITH done AS (
        UPDATE queue_jobs AS q SET state = i.state, outcome = i.outcome, finished_at = done_at,
          lease_worker = NULL, lease_expires_at = NULL
        FROM unnest(done_seqs, done_tokens, done_states, done_outcomes) AS i (seq, token, state, outcome)
        WHERE q.seq = ANY (done_seqs) AND q.seq = i.seq AND q.lease_token = i.token AND q.state = 'leased'
        RETURNING q.seq, q.lease_token)
      SELECT array_agg(done.seq), array_agg(done.lease_token) INTO updated_seqs, updated_tokens FROM done;
    END IF;
    IF coalesce(cardinality(updated_seqs), 0) < cardinality(done_seqs) THEN
      RETURN QUERY INSERT INTO queue_stale_writes (job_id, token, action, at)
        SELECT i.seq, i.token, 'complete', done_at FROM unnest(done_seqs, done_tokens) AS i (seq, token)
        WHERE (i.seq, i.token) NOT IN (SELECT u.seq, u.token FROM unnest(updated_seqs, updated_tokens) AS u (seq, token))
        RETURNING queue_stale_writes.job_id, queue_stale_writes.token;
    END IF;
  END
  $$;

  -- The queue key is core/priority.ts's, computed from max(now, notBefore) and the row's priority's
  -- level: its place in priority_order (core/priority.ts's list, passed in), default_level if absent.
  CREATE FUNCTION queue_release(released_seqs bigint[], released_tokens bigint[],
    released_not_befores bigint[], released_at bigint, aging_ms bigint, priority_order text[],
    default_level int)
  RETURNS TABLE (job_id bigint, token bigint) LANGUAGE plpgsql VOLATILE
  SET enable_seqscan = off SET enable_nestloop = off SET enable_mergejoin = off AS $$
  #variable_conflict use_column
  BEGIN
    RETURN QUERY WITH input AS (
      SELECT * FROM unnest(released_seqs, released_tokens, released_not_befores) AS i (seq, token, not_before)),
    done AS (
      UPDATE queue_jobs AS q SET state = 'queued', not_before = i.not_before,
        queue_key = greatest(released_at, coalesce(i.not_before, released_at))
          + coalesce(array_position(priority_order, q.priority) - 1, default_level) * aging_ms,
        lease_worker = NULL, lease_expires_at = NULL
      FROM input AS i
      WHERE q.seq = ANY (released_seqs) AND q.seq = i.seq AND q.lease_token = i.token AND q.state = 'leased'
      RETURNING q.seq, q.lease_token),
    counted AS (
      UPDATE queue_counts SET queued = queued + (SELECT count(*) FROM done)
      WHERE slot = pg_backend_pid() % 16 AND EXISTS (SELECT FROM done)),
    stale AS (
      INSERT INTO queue_stale_writes (job_id, token, action, at)
      SELECT i.seq, i.token, 'release', released_at FROM input AS i
      WHERE (i.seq, i.token) NOT IN (SELECT d.seq, d.lease_token FROM done AS d)
      RETURNING job_id, token)
    SELECT stale.job_id, stale.token FROM stale;
  END
  $$;
`;
