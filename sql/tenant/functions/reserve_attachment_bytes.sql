-- Storage quotas (docs/decisions/0017-storage-quotas.md).
--
-- Reserves p_bytes more for upload p_attachment, before they are stored. Returns 'ok' (the
-- upload's size grew by p_bytes, and the brokerage's total with it), 'user' (the uploader's
-- unsent uploads would pass p_user_limit) or 'tenant' (the brokerage's attachments would pass
-- p_tenant_limit). The uploader's row serializes one user's reservations; the usage row the
-- brokerage's, so neither quota can be overrun by concurrent uploads.
CREATE OR REPLACE FUNCTION reserve_attachment_bytes(
    p_attachment uuid, p_uploader text, p_bytes bigint, p_user_limit bigint, p_tenant_limit bigint
) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_unsent bigint;
    v_total bigint;
BEGIN
    -- One user's reservations, one at a time. NO KEY: the foreign-key checks on this user
    -- (their messages, uploads, sessions) take KEY SHARE, which FOR UPDATE would block, so the
    -- user's sends queued behind a reservation waiting for the usage row below.
    PERFORM 1 FROM users WHERE id = p_uploader FOR NO KEY UPDATE;
    SELECT coalesce(sum(size), 0) INTO v_unsent FROM attachments WHERE uploader_id = p_uploader AND message_id IS NULL;
    IF v_unsent + p_bytes > p_user_limit THEN
        RETURN 'user';
    END IF;
    SELECT attachment_bytes INTO v_total FROM storage_usage FOR UPDATE;
    IF v_total + p_bytes > p_tenant_limit THEN
        RETURN 'tenant';
    END IF;
    UPDATE attachments SET size = size + p_bytes WHERE id = p_attachment;
    RETURN 'ok';
END $$;
