-- What one membership adds to its user's unread count (the badge): in a session that is not
-- closed and that the member has not archived, the messages after the member's read position,
-- or 1 while the member has marked it unread. Archiving is each member's own (decision 0061); a
-- session status `archived` of an older release counts as active (convert_archived_sessions()).
DROP FUNCTION IF EXISTS unread_contribution(text, bigint, bigint, boolean);
CREATE OR REPLACE FUNCTION unread_contribution(p_status text, p_archived boolean, p_last_seq bigint, p_last_read bigint, p_marked boolean)
RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_status <> 'closed' AND NOT p_archived THEN GREATEST(p_last_seq - p_last_read, CASE WHEN p_marked THEN 1 ELSE 0 END) ELSE 0 END
$$;
