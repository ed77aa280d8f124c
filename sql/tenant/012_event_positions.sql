-- Delivery order is a per-brokerage position assigned after commit, not the writing
-- transaction's xid (docs/decisions/0012-event-positions.md). Writers insert events with no
-- position; sequence_events() numbers the committed ones under this schema's event_clock row
-- lock, so a position is visible only after every smaller one is, and no transaction outside
-- this schema (another database, another brokerage, a migration, a report) can hold delivery
-- back. Positions are data: they survive a dump and restore into a new cluster.
ALTER TABLE events ADD COLUMN pos bigint;

-- Rows from before keep their id as position: the cursors clients already hold were event ids.
UPDATE events SET pos = id;

CREATE UNIQUE INDEX events_pos ON events (pos);
-- What sequence_events() has still to number (empty nearly always: a small index).
CREATE INDEX events_unsequenced ON events (id) WHERE pos IS NULL;
DROP INDEX events_order;
ALTER TABLE events DROP COLUMN xid;

-- One row: the last position handed out. Positions are handed out without gaps and
-- retention deletes the oldest first, so "min(pos) - 1" is the last position deleted: a
-- cursor below it may have lost events (resync_required).
CREATE TABLE event_clock (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position  bigint  NOT NULL
);
INSERT INTO event_clock (position) SELECT coalesce(max(id), 0) FROM events;
