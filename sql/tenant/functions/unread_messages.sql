-- The badge's first count: unread messages of one user in their active sessions, from each
-- membership's read position against the session's last seq (O(sessions), no message counted).
CREATE OR REPLACE FUNCTION unread_messages(p_user text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(GREATEST(s.last_seq - m.last_read_seq, CASE WHEN m.marked_unread THEN 1 ELSE 0 END)), 0)::int8
    FROM session_members m JOIN sessions s ON s.id = m.session_id
    WHERE m.user_id = p_user AND s.status = 'active'
$$;
