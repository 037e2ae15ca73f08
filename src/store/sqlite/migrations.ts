import type Database from 'better-sqlite3';
import { ValkyrieError } from '../../core/errors.js';

/**
 * The schema as an ordered list: entry N-1 takes a database from version N-1 to N. A released entry is
 * never edited — a change is a new entry appended at the end.
 *
 * The version lives in SQLite's `user_version` header field rather than a `schema_migrations` table:
 * reading it needs no table, so a newer or foreign file is recognised before anything is written.
 */
export const migrations: readonly string[] = [
  `
  -- AUTOINCREMENT so that a deleted run's id is never handed out again (ids appear in URLs and logs).
  CREATE TABLE runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_name TEXT    NOT NULL,
    workflow_path TEXT    NOT NULL,
    run_number    INTEGER NOT NULL,
    status        TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    sha           TEXT,
    ref           TEXT,
    UNIQUE (workflow_name, run_number)
  );

  -- seq aliases the rowid and keeps insertion order stable across VACUUM (an implicit rowid is not).
  CREATE TABLE jobs (
    seq         INTEGER PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    run_id      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key         TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    matrix      TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    outputs     TEXT    NOT NULL DEFAULT '{}',
    reason      TEXT
  );
  -- An index on (run_id) is ordered by (run_id, rowid), so listing a run's jobs by seq needs no sort.
  CREATE INDEX jobs_by_run ON jobs (run_id);

  CREATE TABLE steps (
    job_id      TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx         INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    outcome     TEXT,
    conclusion  TEXT,
    exit_code   INTEGER,
    started_at  INTEGER,
    finished_at INTEGER,
    PRIMARY KEY (job_id, idx)
  ) WITHOUT ROWID;

  CREATE TABLE log_lines (
    seq        INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL,
    job_id     TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step_index INTEGER NOT NULL,
    stream     TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    text       TEXT    NOT NULL
  );
  CREATE INDEX log_lines_by_run ON log_lines (run_id);
  CREATE INDEX log_lines_by_job ON log_lines (job_id);
  `,
  `
  -- Refused writes under stale fencing tokens. No foreign key: a runner may name a job that is gone.
  CREATE TABLE stale_writes (
    seq           INTEGER PRIMARY KEY,
    job_id        TEXT    NOT NULL,
    fencing_token INTEGER NOT NULL,
    current_token INTEGER,
    message_type  TEXT    NOT NULL,
    at            INTEGER NOT NULL
  );
  CREATE INDEX stale_writes_by_job ON stale_writes (job_id);
  `,
  `
  -- Queue admission (store/submissions.ts): the jobs a run is known to have before they are added,
  -- counted against the queue capacity, and the idempotency key it was submitted with (moved to a
  -- newer run once its window has passed, hence unique only among the runs that hold one).
  ALTER TABLE runs ADD COLUMN planned_jobs INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE runs ADD COLUMN idempotency_key TEXT;
  CREATE UNIQUE INDEX runs_by_idempotency_key ON runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
  CREATE INDEX runs_unfinished ON runs (status) WHERE status IN ('queued', 'running');
  `,
  `
  -- Retries: every attempt of a job and of a step keeps its own record and log lines. The jobs row
  -- holds the latest attempt; job_attempts the earlier ones.
  ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;

  CREATE TABLE job_attempts (
    job_id      TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER NOT NULL,
    reason      TEXT,
    PRIMARY KEY (job_id, attempt)
  ) WITHOUT ROWID;

  -- SQLite cannot change a primary key in place: the steps table is rebuilt with the attempts in it.
  CREATE TABLE steps_by_attempt (
    job_id      TEXT    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    job_attempt INTEGER NOT NULL DEFAULT 1,
    idx         INTEGER NOT NULL,
    attempt     INTEGER NOT NULL DEFAULT 1,
    name        TEXT    NOT NULL,
    outcome     TEXT,
    conclusion  TEXT,
    exit_code   INTEGER,
    started_at  INTEGER,
    finished_at INTEGER,
    PRIMARY KEY (job_id, job_attempt, idx, attempt)
  ) WITHOUT ROWID;
  INSERT INTO steps_by_attempt (job_id, idx, name, outcome, conclusion, exit_code, started_at, finished_at)
    SELECT job_id, idx, name, outcome, conclusion, exit_code, started_at, finished_at FROM steps;
  DROP TABLE steps;
  ALTER TABLE steps_by_attempt RENAME TO steps;

  ALTER TABLE log_lines ADD COLUMN job_attempt INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE log_lines ADD COLUMN step_attempt INTEGER NOT NULL DEFAULT 1;
  `,
  `
  -- The durable job queue (store/queue.ts). seq is the id and the FIFO tie-break; queue_key is
  -- core/priority.ts's queueKey, so claiming reads the partial index below in queue order.
  CREATE TABLE queue_jobs (
    seq              INTEGER PRIMARY KEY,
    task             TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    priority         TEXT    NOT NULL,
    queue_key        INTEGER NOT NULL,
    not_before       INTEGER,
    state            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    on_lease_expiry  TEXT    NOT NULL,
    idempotency_key  TEXT,
    created_at       INTEGER NOT NULL,
    lease_token      INTEGER NOT NULL DEFAULT 0,
    lease_worker     TEXT,
    lease_expires_at INTEGER,
    outcome          TEXT,
    finished_at      INTEGER
  );
  CREATE INDEX queue_jobs_ready ON queue_jobs (queue_key, seq) WHERE state = 'queued';
  CREATE INDEX queue_jobs_leased ON queue_jobs (lease_expires_at) WHERE state = 'leased';
  CREATE INDEX queue_jobs_by_idempotency_key ON queue_jobs (idempotency_key, created_at)
    WHERE idempotency_key IS NOT NULL;

  CREATE TABLE queue_stale_writes (
    seq    INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL,
    token  INTEGER NOT NULL,
    action TEXT    NOT NULL,
    at     INTEGER NOT NULL
  );
  `,
  // Crash recovery: what a resume needs (no secrets), and who runs the run and when it last said so.
  `
  ALTER TABLE runs ADD COLUMN workflow_source TEXT;
  ALTER TABLE runs ADD COLUMN run_request TEXT;
  ALTER TABLE runs ADD COLUMN owner_host TEXT;
  ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
  ALTER TABLE runs ADD COLUMN heartbeat_at INTEGER;
  `,
  `
  -- Concurrency groups: one row per member (a run waiting for or holding its group's slot).
  CREATE TABLE concurrency_members (
    member_id        TEXT PRIMARY KEY,
    group_key        TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    phase            TEXT NOT NULL CHECK (phase IN ('running', 'pending', 'replaced')),
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    replaced_by      TEXT,
    joined_at        INTEGER NOT NULL,
    heartbeat_at     INTEGER NOT NULL
  );
  CREATE INDEX concurrency_members_by_group ON concurrency_members (group_key, seq);
  `,
  `
  CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    name       TEXT,
    hash       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
  );
  CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  `
  -- GitHub's run_attempt: a re-run of failed jobs (RunRecoveryStore.reopen) adds one.
  ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
  `,
  `
  -- A replica that does not drive a run asks its driver to cancel it here (RunRecoveryStore.requestCancel).
  ALTER TABLE runs ADD COLUMN cancel_requested_at INTEGER;
  `,
  `
  -- The fleet's runners, shared by replicas (RunnerStore): what each replica last wrote of a runner
  -- connected to it, and the operator's mode, which every replica applies.
  CREATE TABLE runners (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    labels        TEXT NOT NULL, -- a JSON array
    capacity      INTEGER NOT NULL,
    running       INTEGER NOT NULL,
    draining      INTEGER NOT NULL,
    transport     TEXT,
    capabilities  TEXT,          -- a JSON object
    replica       TEXT NOT NULL,
    connected     INTEGER NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    mode          TEXT NOT NULL DEFAULT 'online' CHECK (mode IN ('online', 'draining', 'maintenance'))
  );
  CREATE INDEX runners_by_replica ON runners (replica) WHERE connected = 1;
  CREATE INDEX runners_set_aside ON runners (mode) WHERE mode <> 'online';
  `,
  `
  -- What a replica that follows a run from the store tells its clients besides the rows' states: when
  -- a job's attempt was queued (until when it waits, at which priority), why and after how long an
  -- attempt was retried, and the run's place in its workflow's concurrency group.
  ALTER TABLE jobs ADD COLUMN queued_at INTEGER;
  ALTER TABLE jobs ADD COLUMN not_before INTEGER;
  ALTER TABLE jobs ADD COLUMN priority TEXT;
  ALTER TABLE job_attempts ADD COLUMN retry_delay_ms INTEGER;
  ALTER TABLE job_attempts ADD COLUMN retry_reason TEXT;
  ALTER TABLE runs ADD COLUMN concurrency_group TEXT;
  ALTER TABLE runs ADD COLUMN concurrency_state TEXT;
  ALTER TABLE runs ADD COLUMN concurrency_ahead INTEGER;
  ALTER TABLE runs ADD COLUMN concurrency_at INTEGER;
  `,
  `
  -- A retried step attempt's delay, which the driver's feed tells with the attempt's end (a follower
  -- of the run tells it too, and a terminal does not show the attempt as the step's failure).
  ALTER TABLE steps ADD COLUMN retry_delay_ms INTEGER;
  `,
  `
  -- When a runner deregistered: it stopped on purpose rather than being lost (RunnerStore.disconnected).
  ALTER TABLE runners ADD COLUMN stopped_at INTEGER;
  `,
  `
  -- The fleet runner that started each job attempt, as JSON {id, name}; NULL for a job run locally.
  ALTER TABLE jobs ADD COLUMN runner TEXT;
  ALTER TABLE job_attempts ADD COLUMN runner TEXT;
  `,
  `
  -- The runner that sent each refused stale write (its id); NULL in rows kept before.
  ALTER TABLE stale_writes ADD COLUMN runner_id TEXT;
  `,
  `
  -- The fencing token of the lease the job's runner holds for its attempt, so that a control plane
  -- that takes the run over can hold that lease while the runner reconnects; NULL without a runner.
  ALTER TABLE jobs ADD COLUMN fencing_token INTEGER;
  `,
  `
  -- The limit of a step attempt that its timeout-minutes stopped, which \`valkyrie show\` tells.
  ALTER TABLE steps ADD COLUMN timed_out_after_ms INTEGER;
  `,
  `
  -- A hash of the request a run's idempotency key came with (the caller defines it; the server's API
  -- does), so that the key reused for another request is told apart from a retry; NULL without one.
  ALTER TABLE runs ADD COLUMN idempotency_fingerprint TEXT;
  `,
  `
  -- How many times in a row servers took the run over without a job of it finishing between, and
  -- how many of its jobs had finished at the last of those takeovers (RunRecoveryStore.countTakeover):
  -- a run whose writes fail for good is ended, not taken over forever.
  ALTER TABLE runs ADD COLUMN takeovers INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE runs ADD COLUMN takeover_finished_jobs INTEGER;
  `,
  `
  -- The fencing token of the lease each ended job attempt's runner held, as jobs.fencing_token keeps
  -- the latest attempt's: a completion of it sent again is known for that end; NULL in rows kept before.
  ALTER TABLE job_attempts ADD COLUMN fencing_token INTEGER;
  `,
  `
  -- 1 when the run's owner gave it up because a store write failed, until the next takeover counts it
  -- (RunRecoveryStore.markGivenUp, countTakeover): only takeovers after a give-up count toward
  -- --max-takeovers, not those after a crash or a restart.
  ALTER TABLE runs ADD COLUMN given_up INTEGER NOT NULL DEFAULT 0;
  `,
  `
  -- Who or what asked for a run's cancel (RunRecoveryStore.requestCancel), for its jobs' reason, so
  -- that it reaches the process or replica that drives the run; NULL when the request named none.
  ALTER TABLE runs ADD COLUMN cancel_requester TEXT;
  `,
  `
  -- The attempt each job's retries count from (JobRecord.triesFrom: a re-run's first, or one past an
  -- attempt requeued after its runner was lost), so that a restored run keeps its jobs' retry budget;
  -- NULL means 1.
  ALTER TABLE jobs ADD COLUMN tries_from INTEGER;
  `,
  `
  -- A run its driving replica handed to another (RunRecoveryStore.handOff): the replica that is to
  -- take it, until a claim does, and when it was last handed off (kept: the floor between handoffs).
  ALTER TABLE runs ADD COLUMN handoff_to TEXT;
  ALTER TABLE runs ADD COLUMN handed_off_at INTEGER;
  `,
  `
  -- The runner's index of each of its lines within the job attempt (LogLine.lineIndex), NULL for the
  -- control plane's own: a server that takes a run over drops the lines a runner sends again that the
  -- store holds already (LogStore.lineEnd).
  ALTER TABLE log_lines ADD COLUMN line_index INTEGER;
  `,
  `
  -- Why an operator set a runner aside (RunnerStore.setMode's note); NULL for none.
  ALTER TABLE runners ADD COLUMN mode_note TEXT;
  `,
  `
  -- The process waiting or running as a concurrency-group member (GroupMember.owner): a waiting
  -- member whose process of this host exited is passed over at once. NULL: its heartbeat alone decides.
  ALTER TABLE concurrency_members ADD COLUMN owner_host TEXT;
  ALTER TABLE concurrency_members ADD COLUMN owner_pid INTEGER;
  `,
  `
  -- When the run's current attempt joined its concurrency group (RunConcurrency.joinedAt): a re-run's
  -- wait for its group counts from there. NULL where not recorded.
  ALTER TABLE runs ADD COLUMN concurrency_joined_at INTEGER;
  `,
  `
  -- When a run's owner released it (RunRecoveryStore.release: a server stopping, which will not touch
  -- it again), until a claim takes it; NULL otherwise. It stands while it equals heartbeat_at.
  ALTER TABLE runs ADD COLUMN released_at INTEGER;
  `,
  `
  -- The attempts in all a retried step's retry: allows (its max-attempts), which \`valkyrie show\` and
  -- \`valkyrie logs\` tell (\`attempt 2 of 3\`); NULL without retry:, and from a runner older than it.
  ALTER TABLE steps ADD COLUMN max_attempts INTEGER;
  `,
  `
  -- 1 for a job that failed and whose job-level continue-on-error let the run go on
  -- (JobRecord.continuedOnError), which \`valkyrie show\` tells; NULL otherwise.
  ALTER TABLE jobs ADD COLUMN continued_on_error INTEGER;
  `,
  `
  -- The attempt of a job that a re-run (RunRecoveryStore.reopen) runs again, which the job still
  -- holds, final, until the re-run plans its next attempt: counted as unfinished until then
  -- (submissions.ts unfinishedJobsSql). NULL for a job no re-run marked.
  ALTER TABLE jobs ADD COLUMN rerun_attempt INTEGER;
  `,
];

/** The version this code writes; a file with a higher one was written by a newer Valkyrie. */
export const schemaVersion = migrations.length;

/** Throws, without writing, when the file cannot be used by this version of the code. */
export function assertUsableSchema(db: Database.Database, path: string): number {
  const { version, tables } = readSchema(db);
  if (version > schemaVersion) {
    throw new ValkyrieError(
      'VK_STORE_NEWER_SCHEMA',
      `${path} was written by a newer Valkyrie (schema version ${version}; this version knows up to ` +
        `${schemaVersion}). Upgrade Valkyrie, or point it at another state file.`,
    );
  }
  if (version === 0 && tables > 0) {
    // Version 0 with tables is someone else's database: migrating it would mix our tables into theirs.
    throw new ValkyrieError(
      'VK_STORE',
      `${path} is not a Valkyrie state database (it holds tables but no Valkyrie schema version)`,
    );
  }
  return version;
}

/**
 * Brings the file up to `schemaVersion` in one IMMEDIATE transaction. The version is read again under
 * the write lock because another process may have migrated the file since it was first read.
 */
export function migrate(db: Database.Database, path: string): void {
  if (assertUsableSchema(db, path) === schemaVersion) return;
  const apply = db.transaction(() => {
    const current = assertUsableSchema(db, path);
    for (const sql of migrations.slice(current)) db.exec(sql);
    db.pragma(`user_version = ${schemaVersion}`);
  });
  apply.immediate();
}

/**
 * Version and table count from one statement, hence one snapshot: read separately, another process
 * finishing its migration in between would make a fresh file look like a foreign one.
 */
function readSchema(db: Database.Database): { version: number; tables: number } {
  const row = db
    .prepare<[], { version: number; tables: number }>(
      'SELECT user_version AS version, (SELECT count(*) FROM sqlite_master) AS tables FROM pragma_user_version',
    )
    .get();
  return row ?? { version: 0, tables: 0 };
}
