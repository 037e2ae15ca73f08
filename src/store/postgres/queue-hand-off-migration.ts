/**
 * Migration 23 (the 23rd entry of schema-migrations.ts; released, so never edited — a change is a new entry).
 *
 * Hand-off: an idle worker waits as a row of `queue_waiters`, and an enqueue leases its new jobs to
 * waiting workers in its own transaction and sends each its leases in a notification, so that a worker
 * starts a job as that notification arrives instead of waking, claiming and waiting for the claim's
 * round trip and commit (QueueStore.claimOrWait). What is left unleased notifies the queue channel as
 * before.
 *
 * - A waiter belongs to a listening session (NotificationListener), which holds the session-level
 *   advisory lock (hashtext(schema), session) while it lives; a waiter whose session's lock is free
 *   is gone, and an enqueue deletes it instead of leasing to it.
 * - A hand-off leases at most 64 jobs (a notification's payload is at most 8000 bytes); when even
 *   those do not fit with their payloads, it names them by id and token and the worker reads them.
 * - Lease tokens never fall below the server's clock in milliseconds. A hand-off in an enqueue that
 *   commits before its WAL flush (PostgresQueueStore.enqueue) can be lost to a server crash after its
 *   worker has started; the token the job then gets from its next lease must differ from the lost
 *   one, so that the first worker's writes are refused as stale.
 */
export const queueHandOffMigration = `
  CREATE SEQUENCE queue_waiter_sessions AS integer CYCLE;

  CREATE TABLE queue_waiters (
    id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  integer NOT NULL,
    worker      text    NOT NULL,
    claim_limit integer NOT NULL,
    ttl_ms      bigint  NOT NULL,
    tasks       text[]
  );

  CREATE OR REPLACE FUNCTION queue_claim(claim_now bigint, claim_limit int, claim_worker text,
    claim_expires_at bigint, claim_tasks text[])
  RETURNS TABLE (seq bigint, task text, payload json, attempts int, lease_token bigint,
    lease_worker text, queue_key bigint)
  LANGUAGE plpgsql VOLATILE SET enable_sort = off AS $$
  #variable_conflict use_column
  BEGIN
    RETURN QUERY WITH leased AS (
      UPDATE queue_jobs AS q SET state = 'leased', attempts = q.attempts + 1,
        lease_token = greatest(q.lease_token + 1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint),
        lease_worker = claim_worker, lease_expires_at = claim_expires_at
      WHERE q.seq = ANY (ARRAY (
        SELECT j.seq FROM queue_jobs AS j
        WHERE j.state = 'queued' AND (j.not_before IS NULL OR j.not_before <= claim_now)
          AND (claim_tasks IS NULL OR j.task = ANY (claim_tasks))
        ORDER BY j.queue_key, j.seq LIMIT claim_limit FOR UPDATE SKIP LOCKED))
      RETURNING q.seq, q.task, q.payload, q.attempts, q.lease_token, q.lease_worker, q.queue_key),
    counted AS (
      UPDATE queue_counts SET queued = queued - (SELECT count(*) FROM leased)
      WHERE slot = pg_backend_pid() % 16 AND EXISTS (SELECT FROM leased))
    SELECT * FROM leased;
  END
  $$;

  -- Leases as the claim statement returns them: [id, task, payload, attempt, token, worker] in queue order.
  CREATE FUNCTION queue_claim_json(claim_now bigint, claim_limit int, claim_worker text,
    claim_expires_at bigint, claim_tasks text[])
  RETURNS json LANGUAGE sql VOLATILE AS $$
    SELECT json_agg(json_build_array(c.seq::text, c.task, c.payload, c.attempts, c.lease_token, c.lease_worker)
      ORDER BY c.queue_key, c.seq)
    FROM queue_claim(claim_now, claim_limit, claim_worker, claim_expires_at, claim_tasks) AS c
  $$;

  -- Claims; when nothing is ready for the claim, registers it as a waiter of waiter_session instead and
  -- returns when the earliest job it could take becomes ready (NULL: none queued). When one already is
  -- (another claimer holds it), it registers nothing: the caller claims again. A registration that
  -- commits alone (commits_alone) need not wait for its WAL flush: a waiter does not outlive its
  -- session. In a transaction shared with other writes, that setting would reach their commit too.
  CREATE FUNCTION queue_claim_or_wait(claim_now bigint, claim_limit int, claim_worker text,
    claim_expires_at bigint, claim_tasks text[], waiter_session int, waiter_ttl_ms bigint,
    commits_alone boolean)
  RETURNS TABLE (leases json, waiter bigint, ready_at bigint) LANGUAGE plpgsql VOLATILE AS $$
  BEGIN
    leases := queue_claim_json(claim_now, claim_limit, claim_worker, claim_expires_at, claim_tasks);
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

  -- Leases ready jobs to live waiters, oldest waiter first, until none of new_seqs is left queued;
  -- true when none is. Waiters found nothing ready when they registered, so with none of the new jobs
  -- ready there is nothing to hand. When none waits for a later time, a waiter of every task given
  -- fewer jobs than it asked for took every ready one there was, new ones included: no need to look. Each waiter handed jobs is deleted and told on its session's channel, as
  -- '<waiter id> <JSON>': {expiresAt, leases} as queue_claim_json's, or {expiresAt, ids: [[id, token]]}.
  CREATE FUNCTION queue_hand_off(hand_now bigint, new_seqs bigint[], new_not_befores bigint[]) RETURNS boolean
  LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    w queue_waiters;
    none_delayed boolean;
    asked int;
    handed json;
    message text;
  BEGIN
    IF NOT EXISTS (SELECT FROM unnest(new_not_befores) AS b (at) WHERE b.at IS NULL OR b.at <= hand_now) THEN
      RETURN false;
    END IF;
    none_delayed := NOT EXISTS (SELECT FROM unnest(new_not_befores) AS b (at) WHERE b.at > hand_now);
    FOR w IN SELECT * FROM queue_waiters ORDER BY id FOR UPDATE SKIP LOCKED LOOP
      IF pg_try_advisory_xact_lock_shared(hashtext(current_schema()), w.session_id) THEN
        DELETE FROM queue_waiters WHERE id = w.id;
        CONTINUE;
      END IF;
      asked := least(w.claim_limit, 64);
      handed := queue_claim_json(hand_now, asked, w.worker, hand_now + w.ttl_ms, w.tasks);
      CONTINUE WHEN handed IS NULL;
      DELETE FROM queue_waiters WHERE id = w.id;
      message := w.id || ' ' || json_build_object('expiresAt', hand_now + w.ttl_ms, 'leases', handed);
      IF octet_length(message) >= 8000 THEN
        message := w.id || ' ' || json_build_object('expiresAt', hand_now + w.ttl_ms,
          'ids', (SELECT json_agg(json_build_array(e->0, e->4)) FROM json_array_elements(handed) AS e));
      END IF;
      PERFORM pg_notify('vk_hand_' || left(md5(current_schema()), 16) || '_' || w.session_id, message);
      IF none_delayed AND w.tasks IS NULL AND json_array_length(handed) < asked THEN
        RETURN true;
      END IF;
      IF NOT EXISTS (SELECT FROM queue_jobs AS j WHERE j.seq = ANY (new_seqs) AND j.state = 'queued') THEN
        RETURN true;
      END IF;
    END LOOP;
    RETURN false;
  END
  $$;

  CREATE OR REPLACE FUNCTION queue_enqueue(new_tasks text[], new_payloads json[], new_priorities text[],
    new_queue_keys bigint[], new_not_befores bigint[], new_max_attempts int[], new_policies text[],
    new_idempotency_keys text[], submitted_at bigint, queue_capacity int)
  RETURNS TABLE (job_seq bigint, queued_count int) LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    new_seqs bigint[];
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
    UPDATE queue_counts SET queued = queued + cardinality(new_tasks) WHERE slot = pg_backend_pid() % 16;
    IF NOT queue_hand_off(submitted_at, new_seqs, new_not_befores) THEN
      PERFORM pg_notify('vk_queue_' || left(md5(current_schema()), 16), '');
    END IF;
    RETURN QUERY SELECT s.seq, queued_count FROM unnest(new_seqs) AS s (seq);
  END
  $$;
`;
