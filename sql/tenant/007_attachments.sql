-- File attachments (docs/decisions/0009-attachments.md).
--
-- An upload is a row in `attachments` (state 'uploading' until its last byte is stored and its
-- type checked, then 'ready') and its bytes in `blob_chunks` (256 KiB per row; the BlobStore
-- protocol in Swift is the seam for another store). A ready attachment is used by at most one
-- message of its own session, by its uploader; unused ones are removed after 24 hours.
CREATE TABLE attachments (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id   uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    uploader_id  text        NOT NULL REFERENCES users (id),
    state        text        NOT NULL DEFAULT 'uploading' CHECK (state IN ('uploading', 'ready')),
    file_name    text        NOT NULL CHECK (char_length(file_name) BETWEEN 1 AND 255),
    media_type   text        NOT NULL DEFAULT 'application/octet-stream',
    size         bigint      NOT NULL DEFAULT 0 CHECK (size >= 0),
    sha256       text        CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    width        integer     CHECK (width > 0),
    height       integer     CHECK (height > 0),
    message_id   uuid        REFERENCES messages (id) ON DELETE CASCADE,
    position     smallint    CHECK (position BETWEEN 1 AND 100),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (message_id IS NULL OR (state = 'ready' AND position IS NOT NULL))
);
CREATE INDEX attachments_message ON attachments (message_id, position) WHERE message_id IS NOT NULL;
CREATE INDEX attachments_unused ON attachments (created_at) WHERE message_id IS NULL;

CREATE TABLE blob_chunks (
    blob_id  uuid    NOT NULL,
    n        integer NOT NULL CHECK (n >= 0),
    data     bytea   NOT NULL,
    PRIMARY KEY (blob_id, n)
);
-- Uploads are mostly compressed formats already: store without trying to compress, which also
-- lets substring() read a byte range without detoasting the whole chunk.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- A message may now be attachments only.
ALTER TABLE messages DROP CONSTRAINT messages_text_check;
ALTER TABLE messages ADD CONSTRAINT messages_text_check CHECK (char_length(text) <= 10000);

-- A message's attachments as the API shows them (ordered as sent).
CREATE FUNCTION message_attachments(p_message uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'id', a.id, 'fileName', a.file_name, 'mediaType', a.media_type, 'size', a.size,
               'sha256', a.sha256, 'width', a.width, 'height', a.height,
               'url', '/v1/attachments/' || a.id)) ORDER BY a.position), '[]'::jsonb)
    FROM attachments a WHERE a.message_id = p_message
$$;

-- send_message with attachments: same outcomes as before, plus 'attachments_unavailable' when
-- an id is not a ready, unused upload of this sender in this session. Checked (and locked)
-- before anything is written.
DROP FUNCTION send_message(uuid, text, text, text, text, text, jsonb);
CREATE FUNCTION send_message(
    p_session uuid, p_sender text, p_client_id text, p_text text, p_html text, p_preview text, p_listing jsonb,
    p_attachments uuid[]
) RETURNS TABLE (
    outcome text, id uuid, seq bigint, created_at timestamptz, sender_name text, sender_role text,
    client_message_id text, text text, listing jsonb, members jsonb, sender_id text, attachments jsonb
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
    v_usable integer;
    v_attachments jsonb;
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
                            NULL::text, NULL::text, NULL::jsonb, NULL::jsonb, p_sender, NULL::jsonb;
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
                            v_message.client_message_id, v_message.text, v_message.listing, v_members, p_sender,
                            message_attachments(v_message.id);
        RETURN;
    END IF;

    IF v_status = 'closed' THEN
        RETURN QUERY SELECT 'closed'::text, NULL::uuid, NULL::bigint, NULL::timestamptz, NULL::text, NULL::text,
                            NULL::text, NULL::text, NULL::jsonb, v_members, p_sender, NULL::jsonb;
        RETURN;
    END IF;

    IF cardinality(p_attachments) > 0 THEN
        SELECT count(*) INTO v_usable FROM (
            SELECT 1 FROM attachments a
            WHERE a.id = ANY (p_attachments) AND a.session_id = p_session AND a.uploader_id = p_sender
              AND a.state = 'ready' AND a.message_id IS NULL
            FOR UPDATE OF a) AS usable;
        IF v_usable <> (SELECT count(DISTINCT x) FROM unnest(p_attachments) AS x) OR
           cardinality(p_attachments) <> (SELECT count(DISTINCT x) FROM unnest(p_attachments) AS x) THEN
            RETURN QUERY SELECT 'attachments_unavailable'::text, NULL::uuid, NULL::bigint, NULL::timestamptz, NULL::text,
                                NULL::text, NULL::text, NULL::text, NULL::jsonb, v_members, p_sender, NULL::jsonb;
            RETURN;
        END IF;
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

    v_attachments := '[]'::jsonb;
    IF cardinality(p_attachments) > 0 THEN
        UPDATE attachments a SET message_id = v_message.id, position = x.ord
        FROM unnest(p_attachments) WITH ORDINALITY AS x(id, ord)
        WHERE a.id = x.id;
        v_attachments := message_attachments(v_message.id);
    END IF;

    UPDATE session_members r SET last_read_seq = v_last_seq, marked_unread = false
    WHERE r.session_id = p_session AND r.user_id = p_sender;
    v_members := v_members || jsonb_build_object(p_sender, v_last_seq);

    INSERT INTO events (type, session_id, recipients, data)
    VALUES ('message.created', p_session, v_recipients, jsonb_strip_nulls(jsonb_build_object(
        'id', v_message.id, 'sessionId', p_session, 'seq', v_message.seq,
        'sender', jsonb_build_object('userId', p_sender, 'name', v_name, 'role', v_role),
        'clientMessageId', p_client_id, 'text', p_text, 'html', p_html, 'listing', p_listing,
        'attachments', v_attachments,
        'createdAt', to_char(v_message.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))));

    -- Badges: every other member; the sender too if this session had unread messages for them.
    PERFORM announce_badges(ARRAY(
        SELECT r FROM unnest(v_recipients) AS r
        WHERE r <> p_sender OR v_sender_read < v_last_seq - 1 OR v_sender_marked));

    RETURN QUERY SELECT 'created'::text, v_message.id, v_message.seq, v_message.created_at, v_name, v_role,
                        v_message.client_message_id, v_message.text, v_message.listing, v_members, p_sender, v_attachments;
END;
$$;
