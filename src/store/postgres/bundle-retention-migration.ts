/**
 * Migration 22 (the 22nd entry of schema-migrations.ts; released, so never edited — a change is a new entry).
 *
 * A bundle's last use (upload, a run submitted with it, a job fetching it), so that the server's
 * retention sweep removes the bundles nobody has used for its retention (BundleStore.removeUnused).
 * Bundles stored before this version count as last used when they were uploaded.
 */
export const bundleRetentionMigration = `
  ALTER TABLE bundles ADD COLUMN last_used_at bigint;
  UPDATE bundles SET last_used_at = created_at;
  ALTER TABLE bundles ALTER COLUMN last_used_at SET NOT NULL;
  CREATE INDEX bundles_last_used ON bundles (last_used_at);
`;
