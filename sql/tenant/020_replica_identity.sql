-- badge_deltas has no key: its rows are appended and folded away whole (migration 014). Moving a
-- brokerage to another Citus worker without blocking its writes copies its tables by logical
-- replication, and the folder's DELETEs can only be replayed on rows the replica can identify
-- (decision 0032). A delta row is small, so it identifies itself. On PostgreSQL this writes
-- nothing more unless wal_level is logical.
ALTER TABLE badge_deltas REPLICA IDENTITY FULL;
