-- A session as `session.updated` carries it when a message brought it back for the members who
-- had archived it (decision 0061; their status is then the session's own): the object
-- SessionStore announces for every status change (docs/STREAM.md), with the member who changed
-- it. One definition for send_message() and mirror_message(), which each announce the change in
-- their own copy.
CREATE OR REPLACE FUNCTION session_json(p_session uuid, p_changed_by text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'sessionId', s.id, 'kind', s.kind, 'agentToAgent', s.kind = 'agent', 'status', CASE WHEN s.status = 'closed' THEN 'closed' ELSE 'active' END, 'closed', s.status = 'closed',
        'members', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                        'userId', m.user_id, 'name', u.display_name, 'role', m.role, 'lastReadSeq', m.last_read_seq,
                        'brokerage', u.brokerage)) ORDER BY m.joined_at, m.user_id)
                    FROM session_members m JOIN users u ON u.id = m.user_id WHERE m.session_id = s.id),
        'lastSeq', s.last_seq,
        'lastActivityAt', to_char(s.last_activity_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'changedBy', p_changed_by)
    FROM sessions s WHERE s.id = p_session
$$;
