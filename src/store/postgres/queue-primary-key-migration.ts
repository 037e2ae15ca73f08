/**
 * Migration 37 (the 37th entry of schema-migrations.ts; released, so never edited — a change is a new entry).
 *
 * The queue's primary key, for the schemas the first form of migration 34 left with a non-unique index
 * on `seq` instead (a new schema, or one migrated since, has it, and this changes nothing). A few
 * thousand instructions a job are not worth what a table without a primary key loses: logical
 * replication (a publication that includes the table refuses every claim and completion of a table
 * with no replica identity), and the guarantee that a data-only restore or a COPY with its own ids
 * cannot make two jobs of one id, which completions, joined by id, would both change.
 */
export const queuePrimaryKeyMigration = `
  DO $$
  BEGIN
    IF NOT EXISTS (SELECT FROM pg_constraint WHERE conrelid = 'queue_jobs'::regclass AND contype = 'p') THEN
      CREATE UNIQUE INDEX queue_jobs_pkey ON queue_jobs (seq) WITH (fillfactor = 30);
      ALTER TABLE queue_jobs ADD CONSTRAINT queue_jobs_pkey PRIMARY KEY USING INDEX queue_jobs_pkey;
    END IF;
    DROP INDEX IF EXISTS queue_jobs_seq;
  END
  $$;
`;
