-- A badge.updated event for each user, with their new counts (docs/STREAM.md). Called by
-- send_message() and by the stores (BadgeStore.announce), so every badge is counted one way.
CREATE OR REPLACE FUNCTION announce_badges(p_users text[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO events (type, recipients, data)
    SELECT 'badge.updated', ARRAY[u.id],
           jsonb_build_object('unreadMessages', b.unread, 'pendingRequests', b.pending, 'total', b.unread + b.pending)
    FROM (SELECT DISTINCT unnest(p_users) AS id) AS u
    CROSS JOIN LATERAL (SELECT unread_messages(u.id) AS unread, pending_requests(u.id) AS pending) AS b
$$;
