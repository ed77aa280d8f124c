-- Autovacuum visits a brokerage's table after 1,000 changed rows instead of PostgreSQL's 50
-- (docs/decisions/0025-autovacuum-per-brokerage.md). Each autovacuum or autoanalyze of a table
-- updates the catalog, and every backend that receives the invalidation walks all the plans it
-- has cached — plans of every brokerage it served. With the defaults, 1,000 small brokerages
-- kept autovacuum busy with one table after another and the backends walking their plans
-- instead of sending: sends over 1,000 brokerages stalled for 20–40 s at a time.
--
-- The two queues (rows live for milliseconds) are never analyzed — their statistics would
-- describe an empty table every time — and vacuum leaves their empty pages in place instead
-- of truncating the table (an exclusive lock and one more invalidation per vacuum).
--
-- A table added by a later migration sets the same options; TenancyTests checks every table.
DO $$
DECLARE t regclass;
BEGIN
    FOR t IN SELECT c.oid::regclass FROM pg_class c
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' LOOP
        EXECUTE format('ALTER TABLE %s SET (autovacuum_vacuum_threshold = 1000, autovacuum_analyze_threshold = 1000)', t);
    END LOOP;
END
$$;
ALTER TABLE event_outbox SET (autovacuum_analyze_threshold = 2147483647, vacuum_truncate = false);
ALTER TABLE badge_deltas SET (autovacuum_analyze_threshold = 2147483647, vacuum_truncate = false,
                              autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_insert_scale_factor = 0,
                              autovacuum_vacuum_insert_threshold = 1000);
