-- A badge.updated event for each user, with their new counts (docs/STREAM.md). Called by
-- send_message() and by the stores (BadgeStore.announce), so every badge is counted one way.
--
-- Exact under concurrency (docs/decisions/0012-event-positions.md): each user's badge lock is
-- taken first, in user order, and held to commit, so two transactions that change one user's
-- counts announce one after the other, and the later one counts in a snapshot taken after the
-- earlier one committed. (In read committed each statement here takes a new snapshot.) The
-- later announcement also gets the later position, so the last badge.updated a user receives
-- is the count after every change.
CREATE FUNCTION announce_badges(p_users text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_user text;
BEGIN
    FOR v_user IN SELECT DISTINCT u FROM unnest(p_users) AS u ORDER BY u LOOP
        PERFORM pg_advisory_xact_lock(hashtext('parley.badge:' || current_schema()), hashtext(v_user));
    END LOOP;
    INSERT INTO events (type, recipients, data)
    SELECT 'badge.updated', ARRAY[u.id],
           jsonb_build_object('unreadMessages', b.unread, 'pendingRequests', b.pending, 'total', b.unread + b.pending)
    FROM (SELECT DISTINCT unnest(p_users) AS id) AS u
    CROSS JOIN LATERAL (SELECT unread_messages(u.id) AS unread, pending_requests(u.id) AS pending) AS b;
END;
$$;
