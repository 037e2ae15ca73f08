/**
 * Migration 18 (the 18th entry of schema-migrations.ts; released, so never edited — a change is a new entry).
 *
 * Workspace bundles in the shared store (bundle-store.ts), so that every replica serves a bundle that
 * any of them received. A bundle is its chunks (1 MiB each, the last one shorter) plus a `bundles`
 * row; an upload writes both in one transaction, the row last, and commits only once the bytes hashed
 * to the name, so no reader sees a partial or wrong bundle.
 */
export const bundleMigration = `
  CREATE TABLE bundles (
    sha256     text    PRIMARY KEY,
    size       bigint  NOT NULL,
    chunks     integer NOT NULL,
    created_at bigint  NOT NULL
  );
  -- Not referencing bundles: the chunks are written first, in the same transaction.
  CREATE TABLE bundle_chunks (
    sha256 text    NOT NULL,
    idx    integer NOT NULL,
    data   bytea   NOT NULL,
    PRIMARY KEY (sha256, idx)
  );
  -- Bundles are gzip: compressing them again (TOAST's default for a large value) costs CPU and saves
  -- nothing, so chunks are stored out of line as they are.
  ALTER TABLE bundle_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
`;
