-- THE wire shape of a message: the API's Message object as every member may see it. The
-- message.created event carries exactly this, and the REST API decodes it (Swift `Message`)
-- and adds only the per-viewer fields (`delivery`, `readBy`; `clientMessageId` is kept for the
-- sender alone). Absent values are left out, as the API does.
--
-- `html` is rendered once, by the sender's process, and stored with the message; rows written
-- before it was stored (migration 011) have none, and the reader renders theirs.
-- `p_attachments`: the message's attachments when the caller knows them already (a send
-- without files passes '[]' and saves the lookup); NULL reads them.
CREATE OR REPLACE FUNCTION message_json(p_message messages, p_sender users, p_attachments jsonb DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', p_message.id, 'sessionId', p_message.session_id, 'seq', p_message.seq,
        'sender', jsonb_build_object('userId', p_sender.id, 'name', p_sender.display_name, 'role', p_sender.role),
        'clientMessageId', p_message.client_message_id, 'text', p_message.text, 'html', p_message.html,
        'listing', p_message.listing, 'attachments', coalesce(p_attachments, message_attachments(p_message.id)),
        'createdAt', to_char(p_message.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
$$;
