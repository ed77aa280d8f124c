-- A badge.updated event for each user (docs/STREAM.md). Called by the stores
-- (BadgeStore.announce). send_message() and mirror_message() write none: sequence_events()
-- announces every user whose badge differences it folds (decision 0043), and skips a user this
-- function already announced in the same batch.
--
-- The counts are not taken here: sequence_events() fills them in when it numbers the event,
-- in its own snapshot, after this transaction committed (docs/decisions/0012-event-positions.md).
-- Counted here, two concurrent writers would each count without the other's change and both
-- announce a stale total; counted at numbering, the last badge.updated a user receives was
-- counted after every change that announced one, so it equals GET /v1/badge. Until it is
-- numbered, the row's data is {}.
--
-- PL/pgSQL, not SQL: PostgreSQL 15 plans a SQL function's INSERT again on every call (a SQL
-- function body is inlined only when it is one SELECT), 0.7 ms per send at 16 clients;
-- PL/pgSQL keeps the plan for the backend's life.
CREATE OR REPLACE FUNCTION announce_badges(p_users text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO event_outbox (type, recipients, data)
    SELECT 'badge.updated', ARRAY[u.id], '{}'::jsonb
    FROM (SELECT DISTINCT unnest(p_users) AS id) AS u;
END;
$$;
