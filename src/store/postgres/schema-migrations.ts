import { bundleMigration } from './bundle-migration.js';
import { bundleRetentionMigration } from './bundle-retention-migration.js';
import { initialSchemaMigration } from './initial-schema-migration.js';
import { queueBatchMigration } from './queue-batch-migration.js';
import { queueClaimColumnsMigration } from './queue-claim-columns-migration.js';
import { queueClaimCtidMigration } from './queue-claim-ctid-migration.js';
import { queueClaimPlanMigration } from './queue-claim-plan-migration.js';
import { queueCompleteRowsMigration } from './queue-complete-rows-migration.js';
import { queueEnqueueIdsMigration } from './queue-enqueue-ids-migration.js';
import { queueEnqueueRowsMigration } from './queue-enqueue-rows-migration.js';
import { queueFillfactorMigration } from './queue-fillfactor-migration.js';
import { queueHandOffClaimMigration } from './queue-hand-off-claim-migration.js';
import { queueHandOffMigration } from './queue-hand-off-migration.js';
import { queuePrimaryKeyMigration } from './queue-primary-key-migration.js';
import { queueSeqIndexMigration } from './queue-seq-index-migration.js';
import { queueSweepPlanMigration } from './queue-sweep-plan-migration.js';

/**
 * The schema as an ordered list: entry N-1 takes a schema from version N-1 to N. A released entry is
 * never edited — a change is a new entry appended at the end. Each runs with the search_path set to the
 * target schema, so names stay unqualified.
 */
export const migrations: readonly string[] = [
  initialSchemaMigration,
  `
  -- Refused writes under stale fencing tokens. No foreign key: a runner may name a job that is gone.
  CREATE TABLE stale_writes (
    seq           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id        text    NOT NULL,
    fencing_token bigint  NOT NULL,
    current_token bigint,
    message_type  text    NOT NULL,
    at            bigint  NOT NULL
  );
  CREATE INDEX stale_writes_by_job ON stale_writes (job_id, seq);
  `,
  `
  -- Queue admission (store/submissions.ts): the jobs a run is known to have before they are added,
  -- counted against the queue capacity, and the idempotency key it was submitted with (moved to a
  -- newer run once its window has passed, hence unique only among the runs that hold one).
  ALTER TABLE runs ADD COLUMN planned_jobs integer NOT NULL DEFAULT 0;
  ALTER TABLE runs ADD COLUMN idempotency_key text;
  CREATE UNIQUE INDEX runs_by_idempotency_key ON runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
  CREATE INDEX runs_unfinished ON runs (status) WHERE status IN ('queued', 'running');
  `,
  `
  -- Retries: every attempt of a job and of a step keeps its own record and log lines. The jobs row
  -- holds the latest attempt; job_attempts the earlier ones.
  ALTER TABLE jobs ADD COLUMN attempt integer NOT NULL DEFAULT 1;

  CREATE TABLE job_attempts (
    job_id      text    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    status      text    NOT NULL,
    started_at  bigint,
    finished_at bigint  NOT NULL,
    reason      text,
    PRIMARY KEY (job_id, attempt)
  );

  ALTER TABLE steps
    ADD COLUMN job_attempt integer NOT NULL DEFAULT 1,
    ADD COLUMN attempt     integer NOT NULL DEFAULT 1,
    DROP CONSTRAINT steps_pkey,
    ADD PRIMARY KEY (job_id, job_attempt, idx, attempt);

  ALTER TABLE log_lines
    ADD COLUMN job_attempt  integer NOT NULL DEFAULT 1,
    ADD COLUMN step_attempt integer NOT NULL DEFAULT 1;
  `,
  `
  -- The durable job queue (store/queue.ts). seq is the id and the FIFO tie-break; queue_key is
  -- core/priority.ts's queueKey, so claiming reads the partial index below in queue order.
  CREATE TABLE queue_jobs (
    seq              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task             text    NOT NULL,
    payload          json    NOT NULL,
    priority         text    NOT NULL,
    queue_key        bigint  NOT NULL,
    not_before       bigint,
    state            text    NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL,
    on_lease_expiry  text    NOT NULL,
    idempotency_key  text,
    created_at       bigint  NOT NULL,
    lease_token      bigint  NOT NULL DEFAULT 0,
    lease_worker     text,
    lease_expires_at bigint,
    outcome          json,
    finished_at      bigint
  );
  CREATE INDEX queue_jobs_ready ON queue_jobs (queue_key, seq) WHERE state = 'queued';
  CREATE INDEX queue_jobs_leased ON queue_jobs (lease_expires_at) WHERE state = 'leased';
  CREATE INDEX queue_jobs_by_idempotency_key ON queue_jobs (idempotency_key, created_at)
    WHERE idempotency_key IS NOT NULL;

  CREATE TABLE queue_stale_writes (
    seq    bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id bigint  NOT NULL,
    token  bigint  NOT NULL,
    action text    NOT NULL,
    at     bigint  NOT NULL
  );
  `,
  `
  -- Crash recovery: what a resume needs (no secrets), and who runs the run and when it last said so.
  ALTER TABLE runs
    ADD COLUMN workflow_source text,
    ADD COLUMN run_request     json,
    ADD COLUMN owner_host      text,
    ADD COLUMN owner_pid       integer,
    ADD COLUMN heartbeat_at    bigint;
  `,
  `
  -- Concurrency groups: one row per member (a run waiting for or holding its group's slot).
  CREATE TABLE concurrency_members (
    member_id        text PRIMARY KEY,
    group_key        text NOT NULL,
    seq              bigint NOT NULL,
    phase            text NOT NULL CHECK (phase IN ('running', 'pending', 'replaced')),
    cancel_requested boolean NOT NULL DEFAULT false,
    replaced_by      text,
    joined_at        bigint NOT NULL,
    heartbeat_at     bigint NOT NULL
  );
  CREATE INDEX concurrency_members_by_group ON concurrency_members (group_key, seq);
  `,
  `
  CREATE TABLE api_tokens (
    id         text PRIMARY KEY,
    role       text NOT NULL,
    name       text,
    hash       text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint,
    revoked_at bigint
  );
  CREATE TABLE server_secrets (
    name  text PRIMARY KEY,
    value text NOT NULL
  );
  `,
  `
  -- GitHub's run_attempt: a re-run of failed jobs (RunRecoveryStore.reopen) adds one.
  ALTER TABLE runs ADD COLUMN attempt integer NOT NULL DEFAULT 1;
  `,
  `
  -- A replica that does not drive a run asks its driver to cancel it here (RunRecoveryStore.requestCancel).
  ALTER TABLE runs ADD COLUMN cancel_requested_at bigint;
  `,
  `
  -- QueueStore.enqueue in one round trip instead of five (BEGIN, lock, count, insert, COMMIT): the
  -- submission lock, the capacity check and the insert. In one statement the count would use a
  -- snapshot taken before the lock was granted, and miss a submission that committed while it waited;
  -- a volatile function's statements each take a fresh one. The lock key and the channel are the
  -- store's (queue-store.ts lockSubmissions, notification-listener.ts queueChannelSql). A batch past capacity
  -- inserts nothing and returns one row, (NULL, the queued count).
  CREATE FUNCTION queue_enqueue(new_tasks text[], new_payloads json[], new_priorities text[],
    new_queue_keys bigint[], new_not_befores bigint[], new_max_attempts int[], new_policies text[],
    new_idempotency_keys text[], submitted_at bigint, queue_capacity int)
  RETURNS TABLE (job_seq bigint, queued_count int) LANGUAGE plpgsql VOLATILE AS $$
  BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('vk_queue_submit:' || current_schema()));
    SELECT count(*)::int INTO queued_count FROM queue_jobs WHERE state = 'queued';
    IF queued_count + cardinality(new_tasks) > queue_capacity THEN
      job_seq := NULL;
      RETURN NEXT;
      RETURN;
    END IF;
    -- ORDER BY ord makes the identity follow the batch's order.
    RETURN QUERY WITH inserted AS (
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
      SELECT inserted.seq, queued_count FROM inserted;
    IF cardinality(new_tasks) > 0 THEN
      PERFORM pg_notify('vk_queue_' || left(md5(current_schema()), 16), '');
    END IF;
  END
  $$;

  -- QueueStore.claim: the first ready jobs in queue order, read from queue_jobs_ready in its order up
  -- to the limit. Without statistics (a new table, or one that just filled) the planner guesses few
  -- queued rows and prefers reading all of them and sorting, 5-10 times slower with thousands
  -- queued; sorting is disabled inside the function so that the ordered index read always wins.
  -- The leased rows are then found by key (= ANY), never by a join that could scan the table.
  CREATE FUNCTION queue_claim(claim_now bigint, claim_limit int, claim_worker text,
    claim_expires_at bigint, claim_tasks text[])
  RETURNS TABLE (seq bigint, task text, payload json, attempts int, lease_token bigint,
    lease_worker text, queue_key bigint)
  LANGUAGE plpgsql VOLATILE SET enable_sort = off AS $$
  #variable_conflict use_column
  BEGIN
    RETURN QUERY UPDATE queue_jobs AS q SET state = 'leased', attempts = q.attempts + 1,
      lease_token = q.lease_token + 1, lease_worker = claim_worker, lease_expires_at = claim_expires_at
    WHERE q.seq = ANY (ARRAY (
      SELECT j.seq FROM queue_jobs AS j
      WHERE j.state = 'queued' AND (j.not_before IS NULL OR j.not_before <= claim_now)
        AND (claim_tasks IS NULL OR j.task = ANY (claim_tasks))
      ORDER BY j.queue_key, j.seq LIMIT claim_limit FOR UPDATE SKIP LOCKED))
    RETURNING q.seq, q.task, q.payload, q.attempts, q.lease_token, q.lease_worker, q.queue_key;
  END
  $$;
  `,
  `
  -- The fleet's runners, shared by replicas (RunnerStore): what each replica last wrote of a runner
  -- connected to it, and the operator's mode, which every replica applies.
  CREATE TABLE runners (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    labels        json NOT NULL,
    capacity      integer NOT NULL,
    running       integer NOT NULL,
    draining      boolean NOT NULL,
    transport     text,
    capabilities  json,
    replica       text NOT NULL,
    connected     boolean NOT NULL,
    first_seen_at bigint NOT NULL,
    last_seen_at  bigint NOT NULL,
    mode          text NOT NULL DEFAULT 'online' CHECK (mode IN ('online', 'draining', 'maintenance'))
  );
  CREATE INDEX runners_by_replica ON runners (replica) WHERE connected;
  CREATE INDEX runners_set_aside ON runners (mode) WHERE mode <> 'online';
  `,
  `
  -- The number of queue_jobs in state 'queued', as the sum of a few rows: each write that moves jobs
  -- into or out of 'queued' (enqueue, claim, release, lease expiry) adds its change in its own
  -- transaction, so the capacity check reads 16 rows instead of a heap row per queued job. A writer
  -- adds to the row of its backend (pid mod 16): claimers in several processes seldom wait for each
  -- other's row lock. Under READ COMMITTED the sum sees a claim's change exactly when it sees its rows
  -- leave 'queued', as count(*) did.
  CREATE TABLE queue_counts (
    slot   integer PRIMARY KEY,
    queued bigint  NOT NULL
  );
  INSERT INTO queue_counts (slot, queued) SELECT slot, 0 FROM generate_series(0, 15) AS slot;
  UPDATE queue_counts SET queued = (SELECT count(*) FROM queue_jobs WHERE state = 'queued') WHERE slot = 0;

  CREATE OR REPLACE FUNCTION queue_enqueue(new_tasks text[], new_payloads json[], new_priorities text[],
    new_queue_keys bigint[], new_not_befores bigint[], new_max_attempts int[], new_policies text[],
    new_idempotency_keys text[], submitted_at bigint, queue_capacity int)
  RETURNS TABLE (job_seq bigint, queued_count int) LANGUAGE plpgsql VOLATILE AS $$
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
    RETURN QUERY WITH inserted AS (
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
      SELECT inserted.seq, queued_count FROM inserted;
    UPDATE queue_counts SET queued = queued + cardinality(new_tasks) WHERE slot = pg_backend_pid() % 16;
    PERFORM pg_notify('vk_queue_' || left(md5(current_schema()), 16), '');
  END
  $$;

  CREATE OR REPLACE FUNCTION queue_claim(claim_now bigint, claim_limit int, claim_worker text,
    claim_expires_at bigint, claim_tasks text[])
  RETURNS TABLE (seq bigint, task text, payload json, attempts int, lease_token bigint,
    lease_worker text, queue_key bigint)
  LANGUAGE plpgsql VOLATILE SET enable_sort = off AS $$
  #variable_conflict use_column
  BEGIN
    RETURN QUERY WITH leased AS (
      UPDATE queue_jobs AS q SET state = 'leased', attempts = q.attempts + 1,
        lease_token = q.lease_token + 1, lease_worker = claim_worker, lease_expires_at = claim_expires_at
      WHERE q.seq = ANY (ARRAY (
        SELECT j.seq FROM queue_jobs AS j
        WHERE j.state = 'queued' AND (j.not_before IS NULL OR j.not_before <= claim_now)
          AND (claim_tasks IS NULL OR j.task = ANY (claim_tasks))
        ORDER BY j.queue_key, j.seq LIMIT claim_limit FOR UPDATE SKIP LOCKED))
      RETURNING q.seq, q.task, q.payload, q.attempts, q.lease_token, q.lease_worker, q.queue_key),
    counted AS (
      -- Not written at all by a claim that found nothing.
      UPDATE queue_counts SET queued = queued - (SELECT count(*) FROM leased)
      WHERE slot = pg_backend_pid() % 16 AND EXISTS (SELECT FROM leased))
    SELECT * FROM leased;
  END
  $$;
  `,
  `
  -- What a replica that follows a run from the store tells its clients besides the rows' states: when
  -- a job's attempt was queued (until when it waits, at which priority), why and after how long an
  -- attempt was retried, and the run's place in its workflow's concurrency group.
  ALTER TABLE jobs ADD COLUMN queued_at bigint;
  ALTER TABLE jobs ADD COLUMN not_before bigint;
  ALTER TABLE jobs ADD COLUMN priority text;
  ALTER TABLE job_attempts ADD COLUMN retry_delay_ms bigint;
  ALTER TABLE job_attempts ADD COLUMN retry_reason text;
  ALTER TABLE runs ADD COLUMN concurrency_group text;
  ALTER TABLE runs ADD COLUMN concurrency_state text;
  ALTER TABLE runs ADD COLUMN concurrency_ahead integer;
  ALTER TABLE runs ADD COLUMN concurrency_at bigint;
  `,
  `
  -- A retried step attempt's delay, which the driver's feed tells with the attempt's end (a follower
  -- of the run tells it too, and a terminal does not show the attempt as the step's failure).
  ALTER TABLE steps ADD COLUMN retry_delay_ms bigint;
  `,
  queueBatchMigration,
  `
  -- When a runner deregistered: it stopped on purpose rather than being lost (RunnerStore.disconnected).
  ALTER TABLE runners ADD COLUMN stopped_at bigint;
  `,
  bundleMigration,
  `
  -- The fleet runner that started each job attempt, as JSON {id, name}; NULL for a job run locally.
  ALTER TABLE jobs ADD COLUMN runner json;
  ALTER TABLE job_attempts ADD COLUMN runner json;
  `,
  `
  -- The runner that sent each refused stale write (its id); NULL in rows kept before.
  ALTER TABLE stale_writes ADD COLUMN runner_id text;
  `,
  `
  -- Half of each page of jobs stays free, so that a job's row updates (queued, running, finished;
  -- none changes an indexed column) are HOT: the new version goes on the same page and neither index
  -- gets an entry. Full pages made nearly every update a new entry in both indexes (0.3% HOT through
  -- the control plane; 92% at 50, 37% at 70), and the Postgres server's CPU a job fell from 30.5 to
  -- 26.0 µs. It applies to pages filled from now on; nothing is rewritten.
  ALTER TABLE jobs SET (fillfactor = 50);
  `,
  bundleRetentionMigration,
  queueHandOffMigration,
  `
  -- The fencing token of the lease the job's runner holds for its attempt, so that a control plane
  -- that takes the run over can hold that lease while the runner reconnects; NULL without a runner.
  ALTER TABLE jobs ADD COLUMN fencing_token bigint;
  `,
  `
  -- The limit of a step attempt that its timeout-minutes stopped, which \`valkyrie show\` tells.
  ALTER TABLE steps ADD COLUMN timed_out_after_ms bigint;
  `,
  `
  -- A hash of the request a run's idempotency key came with (the caller defines it; the server's API
  -- does), so that the key reused for another request is told apart from a retry; NULL without one.
  ALTER TABLE runs ADD COLUMN idempotency_fingerprint text;
  `,
  `
  -- How many times in a row servers took the run over without a job of it finishing between, and
  -- how many of its jobs had finished at the last of those takeovers (RunRecoveryStore.countTakeover):
  -- a run whose writes fail for good is ended, not taken over forever.
  ALTER TABLE runs ADD COLUMN takeovers integer NOT NULL DEFAULT 0;
  ALTER TABLE runs ADD COLUMN takeover_finished_jobs integer;
  `,
  `
  -- The fencing token of the lease each ended job attempt's runner held, as jobs.fencing_token keeps
  -- the latest attempt's: a completion of it sent again is known for that end; NULL in rows kept before.
  ALTER TABLE job_attempts ADD COLUMN fencing_token bigint;
  `,
  `
  -- True when the run's owner gave it up because a store write failed, until the next takeover counts
  -- it (RunRecoveryStore.markGivenUp, countTakeover): only takeovers after a give-up count toward
  -- --max-takeovers, not those after a crash or a restart.
  ALTER TABLE runs ADD COLUMN given_up boolean NOT NULL DEFAULT false;
  `,
  queueClaimColumnsMigration,
  queueClaimCtidMigration,
  `
  -- Half of each new leaf page of the queue's primary key stays free. Claims and completions are
  -- updates that cannot be HOT (state is in the ready index's predicate, lease_expires_at in the
  -- expiry index), so each adds an entry for the same id, twice in a job's life; on full pages every
  -- such insert first tried deleting old versions' entries, visiting their heap pages (bottom-up
  -- deletion). Instructions of the Postgres server per job under callgrind (20,000 jobs enqueued,
  -- claimed 250 at a time, completed): 173.4k → 164.9k. It applies to pages split from now on.
  ALTER INDEX queue_jobs_pkey SET (fillfactor = 50);
  `,
  `
  -- Who or what asked for a run's cancel (RunRecoveryStore.requestCancel), for its jobs' reason, so
  -- that it reaches the replica that drives the run; NULL when the request named none.
  ALTER TABLE runs ADD COLUMN cancel_requester text;
  `,
  queueSeqIndexMigration,
  queueEnqueueRowsMigration,
  queueCompleteRowsMigration,
  queuePrimaryKeyMigration,
  `
  -- The attempt each job's retries count from (JobRecord.triesFrom: a re-run's first, or one past an
  -- attempt requeued after its runner was lost), so that a run taken over or resumed keeps its jobs'
  -- retry budget; NULL means 1.
  ALTER TABLE jobs ADD COLUMN tries_from integer;
  `,
  `
  -- A run its driving replica handed to another (RunRecoveryStore.handOff): the replica that is to
  -- take it, until a claim does, and when it was last handed off (kept: the floor between handoffs).
  ALTER TABLE runs ADD COLUMN handoff_to text;
  ALTER TABLE runs ADD COLUMN handed_off_at bigint;
  `,
  queueEnqueueIdsMigration,
  queueFillfactorMigration,
  queueHandOffClaimMigration,
  queueClaimPlanMigration,
  queueSweepPlanMigration,
  `
  -- The runner's index of each of its lines within the job attempt (LogLine.lineIndex), NULL for the
  -- control plane's own: a server that takes a run over drops the lines a runner sends again that the
  -- store holds already (LogStore.lineEnd).
  ALTER TABLE log_lines ADD COLUMN line_index integer;
  `,
  `
  -- Why an operator set a runner aside (RunnerStore.setMode's note); NULL for none.
  ALTER TABLE runners ADD COLUMN mode_note text;
  `,
  `
  -- The process waiting or running as a concurrency-group member (GroupMember.owner): a waiting
  -- member whose process of this host exited is passed over at once. NULL: its heartbeat alone decides.
  ALTER TABLE concurrency_members ADD COLUMN owner_host text;
  ALTER TABLE concurrency_members ADD COLUMN owner_pid integer;
  `,
  `
  -- When the run's current attempt joined its concurrency group (RunConcurrency.joinedAt): a re-run's
  -- wait for its group counts from there. NULL where not recorded.
  ALTER TABLE runs ADD COLUMN concurrency_joined_at bigint;
  `,
  `
  -- When a run's owner released it (RunRecoveryStore.release: a server stopping, which will not touch
  -- it again), until a claim takes it; NULL otherwise. It stands while it equals heartbeat_at.
  ALTER TABLE runs ADD COLUMN released_at bigint;
  `,
  `
  -- The attempts in all a retried step's retry: allows (its max-attempts), which \`valkyrie show\` and
  -- \`valkyrie logs\` tell (\`attempt 2 of 3\`); NULL without retry:, and from a runner older than it.
  -- bigint, as SQLite's INTEGER: max-attempts is any whole number from 1, and an integer column made
  -- recording the step of a max-attempts past 2^31 fail, leaving the run interrupted.
  ALTER TABLE steps ADD COLUMN max_attempts bigint;
  `,
  `
  -- True for a job that failed and whose job-level continue-on-error let the run go on
  -- (JobRecord.continuedOnError), which \`valkyrie show\` tells; NULL otherwise.
  ALTER TABLE jobs ADD COLUMN continued_on_error boolean;
  `,
  `
  -- The attempt of a job that a re-run (RunRecoveryStore.reopen) runs again, which the job still
  -- holds, final, until the re-run plans its next attempt: counted as unfinished until then
  -- (submissions.ts unfinishedJobsSql). NULL for a job no re-run marked.
  ALTER TABLE jobs ADD COLUMN rerun_attempt integer;
  `,
];
