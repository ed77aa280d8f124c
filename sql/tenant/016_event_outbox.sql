-- Writers no longer insert into `events`: they append to `event_outbox`, an insert-only table
-- with nothing but its primary key, and sequence_events() moves what has committed into
-- `events`, numbered (docs/decisions/0024-event-outbox.md). The send's transaction writes no
-- GIN entry and no row that is updated later; every `events` row is written once, with its
-- position, and never updated.
--
-- Upgrading: a process of the previous version still running after this migration fails its
-- event writes (pos is NOT NULL now) until it is replaced; nothing is lost silently.
CREATE TABLE event_outbox (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    type        text        NOT NULL CHECK (type ~ '^[a-z]+\.[a-z_]+$'),
    session_id  uuid,
    recipients  text[]      NOT NULL CHECK (cardinality(recipients) > 0),
    data        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- A queue: rows live for milliseconds. Vacuum it often so the sequencer's look at it stays
-- a look at a few pages.
ALTER TABLE event_outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
                              autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000);

-- Events written but not numbered yet move to the outbox, in their order.
INSERT INTO event_outbox (type, session_id, recipients, data, created_at)
SELECT type, session_id, recipients, data, created_at FROM events WHERE pos IS NULL ORDER BY id;
DELETE FROM events WHERE pos IS NULL;

-- The position is the row's identity now: one index fewer per event.
DROP INDEX events_unsequenced;
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events DROP COLUMN id;
ALTER TABLE events ALTER COLUMN pos SET NOT NULL;
ALTER TABLE events ADD PRIMARY KEY USING INDEX events_pos;
