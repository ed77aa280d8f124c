-- The event log: every change a user must see live, appended in the same transaction as the
-- change. NOTIFY after commit is only a wake-up; this table is the truth (docs/STREAM.md).
--
-- Delivery order is (xid, id), read only below the oldest running transaction
-- (pg_snapshot_xmin(pg_current_snapshot())): rows there can no longer change, so a cursor
-- that moves past them never skips a late commit (docs/decisions/0006-event-cursor.md).
CREATE TABLE events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid         xid8        NOT NULL DEFAULT pg_current_xact_id(),
    type        text        NOT NULL CHECK (type ~ '^[a-z]+\.[a-z_]+$'),
    session_id  uuid,
    -- Who may see it (user ids). Everyone else's stream never carries it.
    recipients  text[]      NOT NULL CHECK (cardinality(recipients) > 0),
    data        jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_order ON events (xid, id);
CREATE INDEX events_recipients ON events USING gin (recipients);
