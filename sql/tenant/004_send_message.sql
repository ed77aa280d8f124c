-- The badge of one user: unread messages in their active sessions (O(sessions)).
CREATE FUNCTION unread_messages(p_user text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(GREATEST(s.last_seq - m.last_read_seq, CASE WHEN m.marked_unread THEN 1 ELSE 0 END)), 0)::int8
    FROM session_members m JOIN sessions s ON s.id = m.session_id
    WHERE m.user_id = p_user AND s.status = 'active'
$$;

-- A badge.updated event for each user, with their new counts.
CREATE FUNCTION announce_badges(p_users text[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO events (type, recipients, data)
    SELECT 'badge.updated', ARRAY[u.id],
           jsonb_build_object('unreadMessages', b.unread, 'pendingRequests', 0, 'total', b.unread)
    FROM (SELECT DISTINCT unnest(p_users) AS id) AS u
    CROSS JOIN LATERAL (SELECT unread_messages(u.id) AS unread) AS b
$$;

-- The whole send in one round trip (measured: the send was 7 round trips; see
-- docs/BENCHMARKS.md). Called inside the tenant-scoped transaction, as the tenant's role.
--
-- Outcomes: 'not_found' (no session, or the sender is not a member), 'existing' (this sender
-- already stored a message under this client id: the stored one is returned), 'closed', or
-- 'created'. The event payload is the REST Message JSON minus per-viewer fields.
CREATE FUNCTION send_message(
    p_session uuid, p_sender text, p_client_id text, p_text text, p_html text, p_preview text, p_listing jsonb
) RETURNS TABLE (
    outcome text, id uuid, seq bigint, created_at timestamptz, sender_name text, sender_role text,
    client_message_id text, text text, listing jsonb, members jsonb, sender_id text
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_status text;
    v_last_seq bigint;
    v_members jsonb;
    v_sender_read bigint;
    v_sender_marked boolean;
    v_message messages%ROWTYPE;
    v_name text;
    v_role text;
    v_recipients text[];
BEGIN
    -- First, and before anything that assigns a transaction id: sends of one session get
    -- increasing xids in seq order (docs/decisions/0006-event-cursor.md).
    PERFORM pg_advisory_xact_lock(hashtext('parley.session'), hashtext(p_session::text));

    SELECT s.status, s.last_seq INTO v_status, v_last_seq
    FROM sessions s JOIN session_members m ON m.session_id = s.id AND m.user_id = p_sender
    WHERE s.id = p_session
    FOR UPDATE OF s;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::uuid, NULL::bigint, NULL::timestamptz, NULL::text, NULL::text,
                            NULL::text, NULL::text, NULL::jsonb, NULL::jsonb, p_sender;
        RETURN;
    END IF;

    SELECT jsonb_object_agg(r.user_id, r.last_read_seq), array_agg(r.user_id)
    INTO v_members, v_recipients
    FROM session_members r WHERE r.session_id = p_session;
    SELECT r.last_read_seq, r.marked_unread INTO v_sender_read, v_sender_marked
    FROM session_members r WHERE r.session_id = p_session AND r.user_id = p_sender;
    SELECT u.display_name, u.role INTO v_name, v_role FROM users u WHERE u.id = p_sender;

    SELECT * INTO v_message FROM messages e
    WHERE e.session_id = p_session AND e.sender_id = p_sender AND e.client_message_id = p_client_id;
    IF FOUND THEN
        RETURN QUERY SELECT 'existing'::text, v_message.id, v_message.seq, v_message.created_at, v_name, v_role,
                            v_message.client_message_id, v_message.text, v_message.listing, v_members, p_sender;
        RETURN;
    END IF;

    IF v_status = 'closed' THEN
        RETURN QUERY SELECT 'closed'::text, NULL::uuid, NULL::bigint, NULL::timestamptz, NULL::text, NULL::text,
                            NULL::text, NULL::text, NULL::jsonb, v_members, p_sender;
        RETURN;
    END IF;

    UPDATE sessions s SET last_seq = s.last_seq + 1, last_message_at = now(), last_activity_at = now(),
        last_message_preview = p_preview, last_sender_id = p_sender,
        status = CASE WHEN s.status = 'archived' AND s.status_changed_by IS DISTINCT FROM p_sender THEN 'active' ELSE s.status END,
        status_changed_at = CASE WHEN s.status = 'archived' AND s.status_changed_by IS DISTINCT FROM p_sender THEN now() ELSE s.status_changed_at END
    WHERE s.id = p_session
    RETURNING s.last_seq INTO v_last_seq;

    INSERT INTO messages (session_id, seq, sender_id, client_message_id, text, listing)
    VALUES (p_session, v_last_seq, p_sender, p_client_id, p_text, p_listing)
    RETURNING * INTO v_message;

    UPDATE session_members r SET last_read_seq = v_last_seq, marked_unread = false
    WHERE r.session_id = p_session AND r.user_id = p_sender;
    v_members := v_members || jsonb_build_object(p_sender, v_last_seq);

    INSERT INTO events (type, session_id, recipients, data)
    VALUES ('message.created', p_session, v_recipients, jsonb_strip_nulls(jsonb_build_object(
        'id', v_message.id, 'sessionId', p_session, 'seq', v_message.seq,
        'sender', jsonb_build_object('userId', p_sender, 'name', v_name, 'role', v_role),
        'clientMessageId', p_client_id, 'text', p_text, 'html', p_html, 'listing', p_listing,
        'attachments', '[]'::jsonb,
        'createdAt', to_char(v_message.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))));

    -- Badges: every other member; the sender too if this session had unread messages for them.
    PERFORM announce_badges(ARRAY(
        SELECT r FROM unnest(v_recipients) AS r
        WHERE r <> p_sender OR v_sender_read < v_last_seq - 1 OR v_sender_marked));

    RETURN QUERY SELECT 'created'::text, v_message.id, v_message.seq, v_message.created_at, v_name, v_role,
                        v_message.client_message_id, v_message.text, v_message.listing, v_members, p_sender;
END;
$$;
