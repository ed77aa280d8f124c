-- Archiving is each member's own (decision 0061): "Archive – hide it from your main list".
-- It was the session's status, so an agent's archive hid the conversation from the client's
-- list and badge too, and the agent's later messages then reached a client who had no sign of
-- them. Now a member's `archived_at` hides the session from that member's list and badge only;
-- `sessions.status` is `active` or `closed` for everyone (the `archived` value stays allowed by
-- the shared domain, parley_session_status, for brokerages not migrated yet, and is no longer
-- written).
ALTER TABLE session_members ADD COLUMN archived_at timestamptz;

-- A session archived before this keeps that for whoever archived it; one archived by SQL
-- (nobody named, or not a member) for each of its agents.
UPDATE session_members m SET archived_at = coalesce(s.status_changed_at, now())
FROM sessions s
WHERE s.id = m.session_id AND s.status = 'archived'
  AND (m.user_id = s.status_changed_by
       OR (m.role = 'agent' AND NOT EXISTS (SELECT 1 FROM session_members a
                                            WHERE a.session_id = s.id AND a.user_id = s.status_changed_by)));
-- The badge triggers of the release before this count the others' unread again here; the
-- function files applied next take every count afresh (badge_session_changed.sql).
UPDATE sessions SET status = 'active' WHERE status = 'archived';
