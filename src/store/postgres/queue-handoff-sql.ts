/**
 * Migration: hand-off of new jobs to idle claimers, in the enqueue's own commit (see queue-handoff.ts).
 *
 * Add → start across processes took two commits in a row: the enqueue's, then the woken claimer's
 * claim. An idle claimer now registers in queue_waiters (what its last, empty, claim asked for, and
 * the backend of its LISTEN connection); an enqueue into an empty queue leases the new jobs to the
 * longest-waiting live one in the same transaction, removes its registration, and notifies it with
 * the leases: `h:<waiter>:{"w": worker, "e": expires at, "j": [[seq, token, attempt, task, payload]…]}`
 * in queue order, so that the waiter starts them without a round trip — or `[seq, token]` pairs only,
 * to be read back, when that would not fit. The lease is committed — synchronously, with the jobs —
 * before the waiter hears of it, and its token comes from the same increment a claim makes.
 *
 * Only into an empty queue (no queued job, delayed ones included): the new jobs are then the head of
 * the queue, so the hand-off takes what a claim would. A waiter is live while its LISTEN backend is
 * (same pid and start time); a dead one's row is deleted by the next enqueue that meets it. At most
 * 100 jobs per hand-off keep the notification under Postgres's 8,000-byte payload limit; the rest stay
 * queued and are announced as before.
 */
export const queueHandoffMigration = `
  CREATE TABLE queue_waiters (
    id            text        PRIMARY KEY,
    worker        text        NOT NULL,
    claim_limit   integer     NOT NULL,
    ttl_ms        bigint      NOT NULL,
    tasks         text[],
    backend_pid   integer     NOT NULL,
    backend_start timestamptz NOT NULL,
    since         bigint      NOT NULL
  );

  CREATE OR REPLACE FUNCTION queue_enqueue(new_tasks text[], new_payloads json[], new_priorities text[],
    new_queue_keys bigint[], new_not_befores bigint[], new_max_attempts int[], new_policies text[],
    new_idempotency_keys text[], submitted_at bigint, queue_capacity int)
  RETURNS TABLE (job_seq bigint, queued_count int) LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    channel text := 'vk_queue_' || left(md5(current_schema()), 16);
    new_seqs bigint[];
    handed bigint[];
    message text;
    waiter queue_waiters;
  BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('vk_queue_submit:' || current_schema()));
    SELECT sum(queued)::int INTO queued_count FROM queue_counts;
    IF queued_count + cardinality(new_tasks) > queue_capacity THEN
      job_seq := NULL;
      RETURN NEXT;
      RETURN;
    END IF;
    IF cardinality(new_tasks) = 0 THEN
      RETURN;
    END IF;
    WITH inserted AS (
      INSERT INTO queue_jobs (task, payload, priority, queue_key, not_before, state, max_attempts,
        on_lease_expiry, idempotency_key, created_at)
      SELECT b.task, b.payload, b.priority, b.queue_key, b.not_before, 'queued', b.max_attempts,
        b.on_lease_expiry, b.idempotency_key, submitted_at
      FROM unnest(new_tasks, new_payloads, new_priorities, new_queue_keys, new_not_befores,
        new_max_attempts, new_policies, new_idempotency_keys)
        WITH ORDINALITY AS b (task, payload, priority, queue_key, not_before, max_attempts,
          on_lease_expiry, idempotency_key, ord)
      ORDER BY b.ord
      RETURNING queue_jobs.seq)
    SELECT array_agg(inserted.seq) INTO new_seqs FROM inserted;
    IF queued_count = 0 THEN
      FOR waiter IN SELECT * FROM queue_waiters AS w ORDER BY w.since, w.id FOR UPDATE SKIP LOCKED LOOP
        IF NOT EXISTS (SELECT FROM pg_stat_get_activity(waiter.backend_pid) AS a
                       WHERE a.backend_start = waiter.backend_start) THEN
          DELETE FROM queue_waiters AS w WHERE w.id = waiter.id;
          CONTINUE;
        END IF;
        WITH leased AS (
          UPDATE queue_jobs AS q SET state = 'leased', attempts = q.attempts + 1,
            lease_token = q.lease_token + 1, lease_worker = waiter.worker,
            lease_expires_at = submitted_at + waiter.ttl_ms
          WHERE q.seq = ANY (ARRAY (
            SELECT j.seq FROM queue_jobs AS j
            WHERE j.seq = ANY (new_seqs) AND (j.not_before IS NULL OR j.not_before <= submitted_at)
              AND (waiter.tasks IS NULL OR j.task = ANY (waiter.tasks))
            ORDER BY j.queue_key, j.seq LIMIT least(waiter.claim_limit, 100)))
          RETURNING q.seq)
        SELECT array_agg(leased.seq) INTO handed FROM leased;
        CONTINUE WHEN handed IS NULL;
        DELETE FROM queue_waiters AS w WHERE w.id = waiter.id;
        SELECT json_build_object('w', waiter.worker, 'e', submitted_at + waiter.ttl_ms, 'j', json_agg(
            json_build_array(j.seq::text, j.lease_token::text, j.attempts, j.task, j.payload)
            ORDER BY j.queue_key, j.seq))::text
          INTO message FROM queue_jobs AS j WHERE j.seq = ANY (handed);
        IF octet_length(message) > 7800 THEN
          SELECT json_build_object('w', waiter.worker, 'e', submitted_at + waiter.ttl_ms, 'j', json_agg(
              json_build_array(j.seq::text, j.lease_token::text) ORDER BY j.queue_key, j.seq))::text
            INTO message FROM queue_jobs AS j WHERE j.seq = ANY (handed);
        END IF;
        PERFORM pg_notify(channel, 'h:' || waiter.id || ':' || message);
        EXIT;
      END LOOP;
    END IF;
    UPDATE queue_counts SET queued = queued + cardinality(new_seqs) - coalesce(cardinality(handed), 0)
    WHERE slot = pg_backend_pid() % 16;
    IF coalesce(cardinality(handed), 0) < cardinality(new_seqs) THEN
      PERFORM pg_notify(channel, '');
    END IF;
    RETURN QUERY SELECT s.seq, queued_count FROM unnest(new_seqs) AS s (seq);
  END
  $$;
`;
