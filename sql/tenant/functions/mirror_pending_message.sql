-- The message send_message(…, p_shared => true) has just stored in the home brokerage's copy,
-- in this transaction (the setting `parley.mirror`), written into this brokerage's copy with
-- the sender named as this copy knows them. Nothing when the send created nothing (a retry, a
-- closed session), and for a message with attachments, whose bytes the caller copies itself
-- (mirror_message() directly). Lets a shared send go out as one pipeline: BEGIN, the home
-- scope, send_message(), this brokerage's scope, this function, COMMIT.
CREATE OR REPLACE FUNCTION mirror_pending_message(p_home text, p_here text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v jsonb := nullif(current_setting('parley.mirror', true), '')::jsonb;
    v_sender text;
BEGIN
    IF v IS NULL OR (v ->> 'attachments')::int > 0 THEN
        RETURN false;
    END IF;
    v_sender := v ->> 'sender';
    v_sender := CASE WHEN left(v_sender, length(p_here) + 2) = '@' || p_here || ':' THEN substr(v_sender, length(p_here) + 3)
                     WHEN v_sender LIKE '@%' THEN v_sender
                     ELSE '@' || p_home || ':' || v_sender END;
    PERFORM mirror_message((v ->> 'id')::uuid, (v ->> 'session')::uuid, (v ->> 'seq')::bigint, v_sender, v ->> 'clientId',
                           v ->> 'text', v ->> 'html', v ->> 'preview', nullif(v -> 'listing', 'null'::jsonb), (v ->> 'createdAt')::timestamptz, '[]'::jsonb);
    RETURN true;
END;
$$;
