-- What each brokerage schema was last migrated to, as one checksum of every tenant migration,
-- function file and reporting view this build has (docs/decisions/0030-migrate-skip.md). A run of
-- `parley migrate` skips a brokerage whose checksum is current without opening a transaction in
-- it: with 10,000 brokerages a run with nothing to do reads one control table instead of making
-- 10,000 × (migrations + 2) transactions. NULL: not known yet (the next run checks the schema).
ALTER TABLE parley.tenants ADD COLUMN migrated_checksum text;
