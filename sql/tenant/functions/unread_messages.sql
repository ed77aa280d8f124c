-- The badge's first count: unread messages of one user in their active sessions, kept as
-- they change (migration 014): the folded count plus the differences not folded yet, in one
-- snapshot. O(1) however many sessions the user has.
CREATE OR REPLACE FUNCTION unread_messages(p_user text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT unread FROM badge_counts WHERE user_id = p_user), 0)
         + coalesce((SELECT sum(delta) FROM badge_deltas WHERE user_id = p_user), 0)::bigint
$$;
