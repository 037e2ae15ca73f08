/**
 * Migration 35 (the 35th entry of schema-migrations.ts; released, so never edited — a change is a new entry).
 *
 * queue_enqueue_rows: queue_enqueue (queue-hand-off-migration.ts) for a batch sent as cheaply as it
 * can be parsed. Parsing the array parameters took ~5k instructions of the server per job (about 700
 * an element, seven arrays), though a batch's jobs nearly always share their task, priority, queue
 * key, policy and limits:
 *
 * - An array of one value stands for that value in every row (new_count rows); a longer one gives
 *   each row its own. Rows of ROWS FROM past an array's end are NULL, so `coalesce(one, b.x)` is the
 *   broadcast value or the row's own, NULL included.
 * - The payloads are the JSON array itself, read with json_array_elements beside the other columns,
 *   not collected into a json[] to be unnested again.
 * - It returns one row, the new ids as a bigint[] in id order (the batch's order) and the queued
 *   count, or for a batch past capacity no ids and the count: what the statement aggregated before.
 *
 * queue_enqueue stays as it was, for processes of the previous version (a rolling upgrade).
 * Instructions of the Postgres server per job under callgrind (migration 34's measure): 158.0k → 141.5k.
 */
export const queueEnqueueRowsMigration = `
  CREATE FUNCTION queue_enqueue_rows(new_count int, new_payloads json, new_tasks text[],
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
    WITH inserted AS (
      INSERT INTO queue_jobs (task, payload, priority, queue_key, not_before, state, max_attempts,
        on_lease_expiry, idempotency_key, created_at)
      SELECT coalesce(one_task, b.task), b.payload, coalesce(one_priority, b.priority),
        coalesce(one_queue_key, b.queue_key), coalesce(one_not_before, b.not_before), 'queued',
        coalesce(one_max_attempts, b.max_attempts), coalesce(one_policy, b.on_lease_expiry),
        coalesce(one_key, b.idempotency_key), submitted_at
      FROM ROWS FROM (json_array_elements(new_payloads), unnest(new_tasks), unnest(new_priorities),
        unnest(new_queue_keys), unnest(new_not_befores), unnest(new_max_attempts), unnest(new_policies),
        unnest(new_idempotency_keys))
        WITH ORDINALITY AS b (payload, task, priority, queue_key, not_before, max_attempts,
          on_lease_expiry, idempotency_key, ord)
      ORDER BY b.ord
      RETURNING queue_jobs.seq)
    SELECT array_agg(inserted.seq ORDER BY inserted.seq) INTO seqs FROM inserted;
    IF cardinality(seqs) <> new_count THEN
      RAISE EXCEPTION 'queue_enqueue_rows: % payloads for % jobs', cardinality(seqs), new_count;
    END IF;
    UPDATE queue_counts SET queued = queued + new_count WHERE slot = pg_backend_pid() % 16;
    IF NOT queue_hand_off(submitted_at, seqs, new_not_befores) THEN
      PERFORM pg_notify('vk_queue_' || left(md5(current_schema()), 16), '');
    END IF;
    RETURN NEXT;
  END
  $$;
`;
