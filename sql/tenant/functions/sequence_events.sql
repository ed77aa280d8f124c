-- Numbers committed events that have no position yet, in id order, continuing from
-- event_clock.position (docs/decisions/0012-event-positions.md). Returns the last position.
--
-- The clock row stays locked until the calling transaction commits, so sequencers of one
-- brokerage run one after another and each sees every row the previous one numbered: a reader
-- that sees position n sees every position below it. Events still being written are invisible
-- here and get the next run's positions; nothing waits for them. Cheap when there is nothing
-- to do: a look at a partial index, no lock, no write.
--
-- badge.updated events get their counts here (unread_messages(): kept counts, folded just
-- before), in this statement's snapshot (taken after the lock): it sees every change committed before it, and a change committed later announces a
-- badge that a later run numbers and counts. So the last badge a user receives is exact.
CREATE OR REPLACE FUNCTION sequence_events(p_limit integer DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_last bigint;
    v_count bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM events WHERE pos IS NULL) THEN
        RETURN (SELECT position FROM event_clock);
    END IF;
    SELECT position INTO STRICT v_last FROM event_clock FOR UPDATE;
    -- Fold the badge differences committed so far into the kept counts (migration 014): one
    -- folder at a time, under the clock; a count read meanwhile adds what is not folded yet.
    WITH folded AS (DELETE FROM badge_deltas RETURNING user_id, delta)
    INSERT INTO badge_counts AS b (user_id, unread)
    SELECT user_id, sum(delta) FROM folded GROUP BY user_id
    ON CONFLICT (user_id) DO UPDATE SET unread = b.unread + EXCLUDED.unread;
    -- A new statement, so a new snapshot: it sees what the previous lock holder numbered.
    WITH todo AS MATERIALIZED (
        SELECT id, type, recipients, row_number() OVER (ORDER BY id) AS n
        FROM events WHERE pos IS NULL ORDER BY id LIMIT p_limit
    ), counted AS (
        -- Counted once per user of the batch, into one object looked up per event: a backlog
        -- of 10,000 events is one pass, not a join the planner may make quadratic.
        SELECT jsonb_object_agg(u.id, jsonb_build_object(
                   'unreadMessages', b.unread, 'pendingRequests', b.pending, 'total', b.unread + b.pending)) AS by_user
        FROM (SELECT DISTINCT recipients[1] AS id FROM todo WHERE type = 'badge.updated') AS u
        CROSS JOIN LATERAL (SELECT unread_messages(u.id) AS unread, pending_requests(u.id) AS pending) AS b
    )
    UPDATE events e
    SET pos = v_last + todo.n,
        data = CASE WHEN todo.type = 'badge.updated'
                    THEN coalesce((SELECT by_user FROM counted) -> todo.recipients[1], e.data)
                    ELSE e.data END
    FROM todo WHERE e.id = todo.id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    UPDATE event_clock SET position = v_last + v_count;
    RETURN v_last + v_count;
END;
$$;
