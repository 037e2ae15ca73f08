/**
 * Migration 40 (the 40th entry of schema-migrations.ts; released, so never edited — a change is a new entry).
 *
 * queue_enqueue_rows (queue-enqueue-rows-migration.ts) takes its batch's ids from the sequence at once:
 * one nextval and, for more than one job, a setval past the batch, and each row's id is the first plus
 * its place in the batch. Before, every row called nextval through the column's identity default, and
 * the rows were sorted by their place so that those calls came in the batch's order, then the ids
 * collected and sorted again — about 4k instructions of the server per job. Every insert into
 * queue_jobs (this function and queue_enqueue, which a process of an earlier version may still call)
 * holds the submission lock, so no other id can be drawn between the nextval and the setval (one drawn
 * there would be one of the batch's, and the second insert of it would fail on the primary key: an
 * error, never a duplicate). Ids stay increasing in the order jobs are submitted, and within a batch in
 * its order. A batch that fails leaves a gap, as before.
 */
export const queueEnqueueIdsMigration = `
  CREATE OR REPLACE FUNCTION queue_enqueue_rows(new_count int, new_payloads json, new_tasks text[],
    new_priorities text[], new_queue_keys bigint[], new_not_befores bigint[], new_max_attempts int[],
    new_policies text[], new_idempotency_keys text[], submitted_at bigint, queue_capacity int)
  RETURNS TABLE (seqs bigint[], queued_count int) LANGUAGE plpgsql VOLATILE AS $$
  DECLARE
    one_task text := CASE WHEN cardinality(new_tasks) = 1 THEN new_tasks[1] END;
    one_priority text := CASE WHEN cardinality(new_priorities) = 1 THEN new_priorities[1] END;
    one_queue_key bigint := CASE WHEN cardinality(new_queue_keys) = 1 THEN new_queue_keys[1] END;
    one_not_before bigint := CASE WHEN cardinality(new_not_befores) = 1 THEN new_not_befores[1] END;
    one_max_attempts int := CASE WHEN cardinality(new_max_attempts) = 1 THEN new_max_attempts[1] END;
    one_policy text := CASE WHEN cardinality(new_policies) = 1 THEN new_policies[1] END;
    one_key text := CASE WHEN cardinality(new_idempotency_keys) = 1 THEN new_idempotency_keys[1] END;
    ids regclass;
    first_seq bigint;
    inserted bigint;
  BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('vk_queue_submit:' || current_schema()));
    SELECT sum(queued)::int INTO queued_count FROM queue_counts;
    IF queued_count + new_count > queue_capacity THEN
      RETURN NEXT;
      RETURN;
    END IF;
    IF new_count = 0 THEN
      queued_count := NULL;
      RETURN NEXT;
      RETURN;
    END IF;
    ids := pg_get_serial_sequence('queue_jobs', 'seq')::regclass;
    first_seq := nextval(ids);
    IF new_count > 1 THEN
      PERFORM setval(ids, first_seq + new_count - 1);
    END IF;
    INSERT INTO queue_jobs (seq, task, payload, priority, queue_key, not_before, state, max_attempts,
      on_lease_expiry, idempotency_key, created_at)
    OVERRIDING SYSTEM VALUE
    SELECT first_seq + b.ord - 1, coalesce(one_task, b.task), b.payload, coalesce(one_priority, b.priority),
      coalesce(one_queue_key, b.queue_key), coalesce(one_not_before, b.not_before), 'queued',
      coalesce(one_max_attempts, b.max_attempts), coalesce(one_policy, b.on_lease_expiry),
      coalesce(one_key, b.idempotency_key), submitted_at
    FROM ROWS FROM (json_array_elements(new_payloads), unnest(new_tasks), unnest(new_priorities),
      unnest(new_queue_keys), unnest(new_not_befores), unnest(new_max_attempts), unnest(new_policies),
      unnest(new_idempotency_keys))
      WITH ORDINALITY AS b (payload, task, priority, queue_key, not_before, max_attempts,
        on_lease_expiry, idempotency_key, ord);
    GET DIAGNOSTICS inserted = ROW_COUNT;
    IF inserted <> new_count THEN
      RAISE EXCEPTION 'queue_enqueue_rows: % payloads for % jobs', inserted, new_count;
    END IF;
    seqs := ARRAY(SELECT generate_series(first_seq, first_seq + new_count - 1));
    UPDATE queue_counts SET queued = queued + new_count WHERE slot = pg_backend_pid() % 16;
    IF NOT queue_hand_off(submitted_at, seqs, new_not_befores) THEN
      PERFORM pg_notify('vk_queue_' || left(md5(current_schema()), 16), '');
    END IF;
    RETURN NEXT;
  END
  $$;
`;
