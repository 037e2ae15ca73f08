/**
 * Migration 1 (the first entry of schema-migrations.ts; released, so never edited — a change is a new entry).
 *
 * The first schema: runs, their per-workflow run numbers, jobs, steps and log lines.
 */
export const initialSchemaMigration = `
  -- An identity is never handed out twice, not even after a delete (ids appear in URLs and logs).
  CREATE TABLE runs (
    id            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_name text    NOT NULL,
    workflow_path text    NOT NULL,
    run_number    integer NOT NULL,
    status        text    NOT NULL,
    created_at    bigint  NOT NULL,
    started_at    bigint,
    finished_at   bigint,
    sha           text,
    ref           text,
    UNIQUE (workflow_name, run_number)
  );

  -- One row per workflow name: incrementing it locks the row, which serialises concurrent creators
  -- of one workflow's runs (across processes) while runs of other workflows proceed in parallel.
  CREATE TABLE run_counters (
    workflow_name text    PRIMARY KEY,
    last_number   integer NOT NULL
  );

  -- seq records the order jobs were added in. json, not jsonb: jsonb reorders a matrix's keys.
  CREATE TABLE jobs (
    id          text   PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    run_id      bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key         text   NOT NULL,
    name        text   NOT NULL,
    matrix      json   NOT NULL,
    status      text   NOT NULL,
    started_at  bigint,
    finished_at bigint,
    outputs     json   NOT NULL DEFAULT '{}',
    reason      text
  );
  CREATE INDEX jobs_by_run ON jobs (run_id, seq);

  CREATE TABLE steps (
    job_id      text    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx         integer NOT NULL,
    name        text    NOT NULL,
    outcome     text,
    conclusion  text,
    exit_code   integer,
    started_at  bigint,
    finished_at bigint,
    PRIMARY KEY (job_id, idx)
  );

  CREATE TABLE log_lines (
    seq        bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     bigint  NOT NULL,
    job_id     text    NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step_index integer NOT NULL,
    stream     text    NOT NULL,
    at         bigint  NOT NULL,
    text       text    NOT NULL
  );
  CREATE INDEX log_lines_by_run ON log_lines (run_id, seq);
  -- Matches a job's read and tail exactly (with (job_id, seq) alone, a table without statistics yet
  -- got a bitmap AND of both indexes and a sort of every line), and leads with job_id for the cascade.
  CREATE INDEX log_lines_by_job ON log_lines (job_id, run_id, seq);
  `;
