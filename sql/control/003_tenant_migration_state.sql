-- Where each brokerage's schema stands: the newest tenant migration applied completely (with
-- the functions), and why the last attempt failed. A server process serves a brokerage only
-- when migrated_version reaches the newest tenant migration it knows; otherwise its routes
-- answer 503 tenant_unavailable and /ready names it (docs/decisions/0016-tenant-availability.md).
-- Existing brokerages start at 0: the migration run that applies this sets their version.
ALTER TABLE parley.tenants
    ADD COLUMN migrated_version    integer     NOT NULL DEFAULT 0,
    ADD COLUMN migration_error     text,
    ADD COLUMN migration_failed_at timestamptz;

COMMENT ON COLUMN parley.tenants.migrated_version IS 'Newest tenant migration applied completely; below the server''s newest: not served.';
COMMENT ON COLUMN parley.tenants.migration_error IS 'Why the last migration attempt failed (NULL after a success).';
