-- A message of a session shared with other brokerages (docs/decisions/0028-shared-sessions.md),
-- written into this brokerage's copy in the sender's transaction, after send_message() stored
-- it in the sender's copy: the same id, seq and time, the sender named as this copy knows them
-- ('@<slug>:<key>' for an agent of another brokerage). Runs as this brokerage's role.
--
-- The copies move in step: both are written under the session's advisory lock (the same key
-- in every copy), so this copy's last_seq is the message's seq - 1; anything else is an error
-- that rolls the whole send back. The status is this copy's own: a closed one stays closed and
-- keeps the message in its history. Its members who archived it have it back in their lists
-- (as send_message() does, and announced as it does, with a session.updated; decision 0061).
--
-- `p_attachments`: the message's attachments as rows of the sender's copy (id, file_name,
-- media_type, size, sha256, width, height, position, created_at); their bytes are copied by
-- the caller into this copy's blob store in the same transaction.
--
-- Generic plans from the first call, as send_message() (decision 0044).
CREATE OR REPLACE FUNCTION mirror_message(
    p_id uuid, p_session uuid, p_seq bigint, p_sender text, p_client_id text, p_text text, p_html text,
    p_preview text, p_listing jsonb, p_created_at timestamptz, p_attachments jsonb
) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    -- The transaction's time as a value: Citus refuses now() inside CASE (decision 0032).
    v_now timestamptz := now();
    v_last_seq bigint;
    v_recipients text[];
    v_archived text[];
    v_message messages%ROWTYPE;
    v_sender users%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('parley.session'), hashtext(p_session::text));
    SELECT s.last_seq INTO v_last_seq FROM sessions s WHERE s.id = p_session FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'shared session % has no copy in %', p_session, current_schema() USING ERRCODE = 'P0002';
    END IF;
    IF EXISTS (SELECT 1 FROM messages e WHERE e.id = p_id) THEN
        RETURN;
    END IF;
    IF v_last_seq <> p_seq - 1 THEN
        RAISE EXCEPTION 'copy of shared session % in % is at seq %, the message is %', p_session, current_schema(), v_last_seq, p_seq
            USING ERRCODE = 'P0004';
    END IF;

    UPDATE session_members r SET last_read_seq = p_seq, marked_unread = false
    WHERE r.session_id = p_session AND r.user_id = p_sender;

    UPDATE sessions s SET last_seq = p_seq, last_message_at = p_created_at, last_activity_at = v_now,
        last_message_preview = p_preview, last_sender_id = p_sender
    WHERE s.id = p_session;

    INSERT INTO messages (id, session_id, seq, sender_id, client_message_id, text, html, listing, created_at)
    VALUES (p_id, p_session, p_seq, p_sender, p_client_id, p_text, p_html, p_listing, p_created_at)
    RETURNING * INTO v_message;

    INSERT INTO attachments (id, session_id, uploader_id, state, file_name, media_type, size, sha256, width, height,
                             message_id, position, created_at)
    SELECT a.id, p_session, p_sender, 'ready', a.file_name, a.media_type, a.size, a.sha256, a.width, a.height,
           p_id, a.position, a.created_at
    FROM jsonb_to_recordset(coalesce(p_attachments, '[]'::jsonb))
        AS a(id uuid, file_name text, media_type text, size bigint, sha256 text, width integer, height integer,
             position smallint, created_at timestamptz);

    SELECT * INTO v_sender FROM users u WHERE u.id = p_sender;
    SELECT array_agg(r.user_id), array_agg(r.user_id) FILTER (WHERE r.archived_at IS NOT NULL AND r.user_id <> p_sender)
    INTO v_recipients, v_archived
    FROM session_members r WHERE r.session_id = p_session;
    IF v_archived IS NOT NULL THEN
        UPDATE session_members r SET archived_at = NULL WHERE r.session_id = p_session AND r.user_id = ANY (v_archived);
    END IF;
    -- No badge.updated rows: the badge differences this copy's triggers wrote are announced by
    -- sequence_events(), as for send_message() (decision 0043).
    INSERT INTO event_outbox (type, session_id, recipients, data)
    VALUES ('message.created', p_session, v_recipients, message_json(v_message, v_sender));
    -- The members who had archived this copy have it back: they hear of it as the sender's
    -- copy's members do (send_message()), after the message.
    IF v_archived IS NOT NULL THEN
        INSERT INTO event_outbox (type, session_id, recipients, data)
        VALUES ('session.updated', p_session, v_archived, session_json(p_session, p_sender));
    END IF;
END;
$$;

